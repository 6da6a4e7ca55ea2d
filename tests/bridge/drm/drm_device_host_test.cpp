// DrmDevice and syncobj error paths that need no DRM driver (label "bridge": runs on the host,
// under ASan and TSan too).
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "drm/drm_test_util.h"

namespace syncbridge::testing {
namespace {

class DrmHostTest : public FdLeakCheckedTest {
 protected:
  void TearDown() override {
    if (!dir_.empty()) {
      ::unlink((dir_ + "/renderD128").c_str());
      ::rmdir(dir_.c_str());
    }
    FdLeakCheckedTest::TearDown();
  }
  std::string make_dir() {
    char tmpl[] = "/tmp/syncbridge-drm-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    EXPECT_NE(d, nullptr);
    dir_ = d ? d : "";
    return dir_;
  }
  std::string dir_;
};

TEST_F(DrmHostTest, NoRenderNodeIsNotFoundWithTheReason) {
  const std::string dir = make_dir();
  auto dev = DrmDevice::open_render_node({.dir = dir});
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.error().code(), Errc::not_found);
  EXPECT_EQ(dev.error().sys_errno(), ENOENT);
  EXPECT_NE(
      dev.error().message().find("no DRM render node with DRM_CAP_SYNCOBJ and DRM_CAP_SYNCOBJ_TIMELINE under " + dir),
      std::string::npos)
      << dev.error().describe();
}

TEST_F(DrmHostTest, ARenderNodeThatIsNoDrmDeviceIsRefused) {
  const std::string dir = make_dir();
  {
    UniqueFd f(::open((dir + "/renderD128").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600));
    ASSERT_TRUE(f.valid());
  }
  auto dev = DrmDevice::open_render_node({.dir = dir});
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.error().code(), Errc::unsupported) << dev.error().describe();
  EXPECT_NE(dev.error().message().find("renderD128"), std::string::npos) << dev.error().describe();
}

TEST_F(DrmHostTest, BorrowingAClosedOrForeignFdFails) {
  SB_EXPECT_ERROR(DrmDevice::borrow(-1), Errc::invalid_handle, EBADF);
  const int fd = ::eventfd(0, EFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  SB_EXPECT_ERROR(DrmDevice::borrow(fd), Errc::unsupported, 0);  // ENOTTY: not a DRM device
  ::close(fd);
  SB_EXPECT_ERROR(DrmDevice::borrow(fd), Errc::invalid_handle, EBADF);
}

TEST_F(DrmHostTest, EmptyObjectsReportInvalidHandle) {
  DrmDevice none;
  EXPECT_FALSE(none.valid());
  SB_EXPECT_ERROR(none.require(DrmCap::syncobj, "test"), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(TimelineSyncobj::create(none), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(BinarySyncobj::create(none), Errc::invalid_handle, EBADF);
  TimelineSyncobj t;
  SB_EXPECT_ERROR(t.signal(1), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(t.wait(1, 0ns), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(t.export_sync_file(1), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(t.import_sync_file(1, 0), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(t.eventfd_at(1), Errc::invalid_handle, EBADF);
  BinarySyncobj b;
  SB_EXPECT_ERROR(b.signal(), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(b.export_fd(), Errc::invalid_handle, EBADF);
  EXPECT_EQ(to_string(DrmCap::syncobj_eventfd), "syncobj_eventfd");
}

}  // namespace
}  // namespace syncbridge::testing

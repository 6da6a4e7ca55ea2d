// DrmDevice against a real render node (label "kernel"; in the VM: virtio_gpu with timeline
// syncobjs, and vgem without any syncobj).
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "drm/drm_test_util.h"

namespace syncbridge::testing {
namespace {

using DrmDeviceTest = DrmTest;

std::vector<std::string> render_nodes() {
  std::vector<std::string> out;
  if (DIR* d = ::opendir("/dev/dri")) {
    while (dirent* e = ::readdir(d))
      if (std::string(e->d_name).rfind("renderD", 0) == 0) out.push_back(std::string("/dev/dri/") + e->d_name);
    ::closedir(d);
  }
  return out;
}

TEST_F(DrmDeviceTest, OpensARenderNodeByCapabilityAndReportsIt) {
  EXPECT_TRUE(dev_.owns_fd());
  EXPECT_TRUE(dev_.has(DrmCap::syncobj));
  EXPECT_TRUE(dev_.has(DrmCap::syncobj_timeline));
  EXPECT_FALSE(dev_.driver_name().empty());
  EXPECT_EQ(dev_.path().rfind("/dev/dri/renderD", 0), 0u) << dev_.path();
  const std::string d = dev_.describe();
  EXPECT_NE(d.find(dev_.driver_name()), std::string::npos) << d;
  EXPECT_NE(d.find("syncobj_timeline"), std::string::npos) << d;
  // The eventfd ioctl exists from 6.6 on; the probe must find it there.
  if (kernel_version() >= 606) {
    EXPECT_TRUE(dev_.has(DrmCap::syncobj_eventfd)) << d;
  }
  std::printf("device: %s\n", d.c_str());
  for (const auto& n : dev_.notes()) std::printf("  note: %s\n", n.c_str());
}

TEST_F(DrmDeviceTest, ANodeWithoutSyncobjIsSkippedByOpenAndRefusedByPath) {
  std::string bare;
  for (const std::string& path : render_nodes()) {
    auto any = DrmDevice::open(path, {.required = DrmCap::none});
    if (any && !any->has(DrmCap::syncobj)) {
      bare = path;
      EXPECT_EQ(any->caps(), DrmCap::none);
      EXPECT_FALSE(any->notes().empty());
      // Capability checks come before any ioctl, with the kernel's errno for it.
      SB_EXPECT_ERROR(TimelineSyncobj::create(*any), Errc::unsupported, EOPNOTSUPP);
      SB_EXPECT_ERROR(BinarySyncobj::create(*any), Errc::unsupported, EOPNOTSUPP);
      break;
    }
  }
  if (bare.empty()) GTEST_SKIP() << "no render node without syncobj here (the VM has vgem)";
  auto refused = DrmDevice::open(bare);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), Errc::unsupported);
  EXPECT_EQ(refused.error().sys_errno(), EOPNOTSUPP);
  EXPECT_NE(refused.error().message().find("no DRM_CAP_SYNCOBJ"), std::string::npos) << refused.error().describe();
  // open_render_node() picked a capable node, never the bare one.
  EXPECT_NE(dev_.path(), bare);
}

TEST_F(DrmDeviceTest, ABorrowedFdIsProbedButNeverClosed) {
  const int fd = ::open(dev_.path().c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  {
    DrmDevice borrowed = must(DrmDevice::borrow(fd));
    EXPECT_FALSE(borrowed.owns_fd());
    EXPECT_EQ(borrowed.fd(), fd);
    EXPECT_EQ(borrowed.caps(), dev_.caps());
    EXPECT_EQ(borrowed.driver_name(), dev_.driver_name());
    EXPECT_TRUE(borrowed.path().empty());
    TimelineSyncobj t = must(TimelineSyncobj::create(borrowed));
    SB_ASSERT_OK(t.signal(1));
    DrmDevice moved = std::move(borrowed);  // syncobjs keep the fd number: still fine
    EXPECT_EQ(must(t.query()), 1u);
  }
  EXPECT_TRUE(fd_is_open(fd));
  ::close(fd);
}

TEST_F(DrmDeviceTest, IgnoredCapabilitiesAreLeftOutAndNoted) {
  DrmDevice no_eventfd = must(DrmDevice::open(dev_.path(), {.ignore = DrmCap::syncobj_eventfd}));
  EXPECT_FALSE(no_eventfd.has(DrmCap::syncobj_eventfd));
  EXPECT_TRUE(no_eventfd.has(DrmCap::syncobj_timeline));
  if (dev_.has(DrmCap::syncobj_eventfd)) {
    bool noted = false;
    for (const auto& n : no_eventfd.notes()) noted |= n.find("ignored") != std::string::npos;
    EXPECT_TRUE(noted);
  }
  // Ignoring a required capability makes the node unusable for that requirement.
  SB_EXPECT_ERROR(DrmDevice::open(dev_.path(), {.ignore = DrmCap::syncobj_timeline}), Errc::unsupported, EOPNOTSUPP);
  // ... and what the device lacks, the syncobjs refuse (eventfd registration here).
  TimelineSyncobj t = must(TimelineSyncobj::create(no_eventfd));
  SB_EXPECT_ERROR(t.eventfd_at(1), Errc::unsupported, EOPNOTSUPP);
}

TEST_F(DrmDeviceTest, AClosedDrmFdGivesTypedErrors) {
  const int fd = ::open(dev_.path().c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  DrmDevice borrowed = must(DrmDevice::borrow(fd));
  TimelineSyncobj t = must(TimelineSyncobj::create(borrowed));
  ::close(fd);  // behind everyone's back; nothing else opens an fd before the calls below
  SB_EXPECT_ERROR(t.signal(1), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(t.query(), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(t.wait(1, 0ns, SyncobjWait::for_submit), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(t.export_sync_file(1), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(TimelineSyncobj::create(borrowed), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(DrmDevice::borrow(fd), Errc::invalid_handle, EBADF);
  t.destroy();  // its destroy ioctl fails quietly: the handle table went with the file
}

}  // namespace
}  // namespace syncbridge::testing

// sw_sync, exporter and probe behaviour that any kernel can show: missing files, files that
// are not sw_sync timelines, empty objects. Runs on any kernel (label "bridge").
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "bridge_test_util.h"
#include "syncbridge/kernel_probe.h"

namespace syncbridge::testing {
namespace {

constexpr std::string_view kMissingPath = "/nonexistent-syncbridge-test/sync/sw_sync";

class SwSyncHostTest : public FdLeakCheckedTest {};

TEST_F(SwSyncHostTest, AMissingFileIsNotFoundAndSaysWhatToDo) {
  auto r = SwSyncTimeline::open(kMissingPath);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::not_found);
  EXPECT_EQ(r.error().sys_errno(), ENOENT);
  EXPECT_NE(r.error().message().find("CONFIG_SW_SYNC"), std::string::npos) << r.error().describe();
  EXPECT_NE(r.error().message().find("mount debugfs"), std::string::npos) << r.error().describe();
}

TEST_F(SwSyncHostTest, TheDefaultPathWhereTheKernelLacksSwSync) {
  if (!sw_sync_missing()) GTEST_SKIP() << "this kernel has sw_sync: the missing case is covered with a fake path";
  auto r = SwSyncTimeline::open();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().code() == Errc::not_found || r.error().code() == Errc::permission_denied)
      << r.error().describe();
  auto e = SwSyncExporter::create("host");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code(), r.error().code());
}

TEST_F(SwSyncHostTest, AFileThatIsNoSwSyncTimeline) {
  auto tl = SwSyncTimeline::open("/dev/null");
  SB_ASSERT_OK(tl);
  auto f = tl->create_fence(1);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code(), Errc::unsupported);
  EXPECT_EQ(f.error().sys_errno(), ENOTTY);
  EXPECT_NE(f.error().message().find("not a sw_sync timeline"), std::string::npos) << f.error().describe();
  SB_EXPECT_ERROR(tl->inc(1), Errc::unsupported, ENOTTY);
  SB_EXPECT_ERROR(tl->get_deadline(SyncFile()), Errc::invalid_handle, EBADF);
}

TEST_F(SwSyncHostTest, ADirectoryIsASystemError) { SB_EXPECT_ERROR(SwSyncTimeline::open("/"), Errc::system, EISDIR); }

TEST_F(SwSyncHostTest, PermissionDenied) {
  if (::geteuid() == 0) GTEST_SKIP() << "running as root: EACCES cannot be provoked with file modes";
  const std::string path = ::testing::TempDir() + "syncbridge-no-access";
  { std::ofstream(path) << ""; }
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  auto r = SwSyncTimeline::open(path);
  ::unlink(path.c_str());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::permission_denied);
  EXPECT_EQ(r.error().sys_errno(), EACCES);
}

TEST_F(SwSyncHostTest, AnEmptyTimelineReportsInvalidHandle) {
  SwSyncTimeline tl;
  EXPECT_FALSE(tl.valid());
  SB_EXPECT_ERROR(tl.create_fence(1), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(tl.inc(1), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(tl.get_deadline(SyncFile()), Errc::invalid_handle, EBADF);
  tl.close();  // harmless
}

TEST_F(SwSyncHostTest, ExporterCreationErrors) {
  auto missing = SwSyncExporter::create("x", 0, kMissingPath);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Errc::not_found);
  // /dev/null opens, but SW_SYNC_IOC_INC (issued even for initial 0) finds no timeline.
  for (std::uint32_t initial : {0u, 7u}) {
    auto foreign = SwSyncExporter::create("x", initial, "/dev/null");
    ASSERT_FALSE(foreign.ok());
    EXPECT_EQ(foreign.error().code(), Errc::unsupported);
    EXPECT_EQ(foreign.error().sys_errno(), ENOTTY);
    EXPECT_NE(foreign.error().message().find("not a sw_sync timeline"), std::string::npos);
  }
}

TEST_F(SwSyncHostTest, AnEmptyExporterReportsInvalidHandle) {
  SwSyncExporter e;
  EXPECT_FALSE(e.valid());
  SB_EXPECT_ERROR(e.sync_file_at(1), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(e.fence_at(1), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(e.advance(1), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(e.signal_to(1), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(e.poll_deadlines(), Errc::invalid_handle, EBADF);
  EXPECT_EQ(e.value(), 0u);
  EXPECT_TRUE(e.closed());
  EXPECT_EQ(e.held_fence_count(), 0u);
  EXPECT_EQ(e.name(), "");
  EXPECT_FALSE(e.earliest_deadline().has_value());
  e.close();  // harmless
  SwSyncExporter moved = std::move(e);
  EXPECT_FALSE(moved.valid());
}

TEST_F(SwSyncHostTest, ProbeOfAMissingFile) {
  const SyncProbe p = probe_sync_features(kMissingPath);
  EXPECT_EQ(p.features, SyncFeature::none);
  EXPECT_FALSE(p.has(SyncFeature::sw_sync));
  ASSERT_EQ(p.notes.size(), 3u);
  EXPECT_NE(p.notes[0].find("CONFIG_SW_SYNC"), std::string::npos) << p.notes[0];
  EXPECT_NE(p.notes[1].find("not probed"), std::string::npos) << p.notes[1];
  const std::string text = p.describe();
  EXPECT_NE(text.find("sw_sync: no"), std::string::npos) << text;
  EXPECT_NE(text.find("SYNC_IOC_SET_DEADLINE: no"), std::string::npos) << text;
}

TEST_F(SwSyncHostTest, ProbeOfAFileThatIsNoTimeline) {
  const SyncProbe p = probe_sync_features("/dev/null");
  EXPECT_EQ(p.features, SyncFeature::none);
  ASSERT_FALSE(p.notes.empty());
  EXPECT_NE(p.notes[0].find("not a sw_sync timeline"), std::string::npos) << p.notes[0];
}

TEST_F(SwSyncHostTest, ProbeOfThisKernel) {
  const SyncProbe p = probe_sync_features();
  std::cout << p.describe();
  EXPECT_EQ(p.has(SyncFeature::sw_sync), !sw_sync_missing().has_value()) << p.describe();
  if (!p.has(SyncFeature::sw_sync)) {
    EXPECT_EQ(p.features, SyncFeature::none) << "deadline bits need sw_sync to probe";
  }
}

}  // namespace
}  // namespace syncbridge::testing

// SyncobjImporter keeps nothing by address (issue 10): the caller's Watcher and syncobj may
// move, and the caller's syncobj may go, while the importer lives; a Watcher destroyed first
// makes new watches fail with Errc::invalid_handle instead of touching freed memory. Each test
// runs with the kernel's eventfd and with the fallback thread. Label "kernel" (a render node
// with timeline syncobjs; the test VM has one).
#include <optional>
#include <utility>

#include "drm/drm_test_util.h"
#include "syncbridge/syncobj_importer.h"
#include "syncbridge/watcher.h"

namespace syncbridge::testing {
namespace {

// GetParam(): true = pretend the kernel lacks DRM_IOCTL_SYNCOBJ_EVENTFD (the fallback thread).
class SyncobjImporterLifetimeTest : public DrmTest, public ::testing::WithParamInterface<bool> {
 protected:
  DrmOpenOptions options() const override { return {.ignore = GetParam() ? DrmCap::syncobj_eventfd : DrmCap::none}; }
  void SetUp() override {
    DrmTest::SetUp();
    if (!IsSkipped() && !GetParam() && !dev_.has(DrmCap::syncobj_eventfd))
      GTEST_SKIP() << "no syncobj eventfd: " << dev_.describe();
  }
};

TEST_P(SyncobjImporterLifetimeTest, TheWatcherAndTheSyncobjMayMoveWhileTheImporterLives) {
  Watcher w = must(Watcher::create());
  TimelineSyncobj t = make_timeline_syncobj();
  SyncobjImporter im = must(SyncobjImporter::create(w, t));
  Watcher moved_watcher = std::move(w);
  TimelineSyncobj moved_syncobj = std::move(t);
  Fence f = must(im.fence_at(2));
  EXPECT_EQ(moved_watcher.stats().watches, 1u);
  SB_ASSERT_OK(moved_syncobj.signal(2));
  EXPECT_EQ(must(f.wait(20s)), WaitStatus::signaled);
}

TEST_P(SyncobjImporterLifetimeTest, TheCallersSyncobjMayGoFirst) {
  Watcher w = must(Watcher::create());
  TimelineSyncobj t = make_timeline_syncobj();
  SyncobjImporter im = must(SyncobjImporter::create(w, t));
  EXPECT_NE(im.syncobj().handle(), t.handle()) << "the importer holds a handle of its own";
  t.destroy();
  Fence f = must(im.fence_at(1));
  SB_ASSERT_OK(im.syncobj().signal(1));  // the same kernel syncobj, through the importer's handle
  EXPECT_EQ(must(f.wait(20s)), WaitStatus::signaled);
}

TEST_P(SyncobjImporterLifetimeTest, AWatcherDestroyedFirstFailsNewWatchesCleanly) {
  std::optional<Watcher> w(must(Watcher::create()));
  TimelineSyncobj t = make_timeline_syncobj();
  SyncobjImporter im = must(SyncobjImporter::create(*w, t));
  Fence pending = must(im.fence_at(3));
  w.reset();  // drops its watches unrun (watcher.h)
  SB_EXPECT_ERROR(im.fence_at(4), Errc::invalid_handle, EBADF);
  EXPECT_EQ(pending.status(), FenceStatus::pending);
  im.close();  // nothing left to remove; the mirror closes
  EXPECT_EQ(pending.status(), FenceStatus::error);
}

INSTANTIATE_TEST_SUITE_P(Mode, SyncobjImporterLifetimeTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "fallback" : "eventfd"; });

}  // namespace
}  // namespace syncbridge::testing

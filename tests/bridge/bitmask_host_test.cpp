// The typed bitmasks (bitmask.h): DrmCap, SyncobjWait and SyncFeature combine, test and
// complement as VulkanCaps does, and reach the kernel as the same bits as before. Host only.
#include <gtest/gtest.h>

#include "syncbridge/bitmask.h"
#include "syncbridge/drm_device.h"
#include "syncbridge/drm_syncobj.h"
#include "syncbridge/kernel_probe.h"

namespace syncbridge::testing {
namespace {

static_assert(bits(SyncobjWait::all) == 1u && bits(SyncobjWait::for_submit) == 2u && bits(SyncobjWait::available) == 4u,
              "DRM_SYNCOBJ_WAIT_FLAGS_* as the kernel numbers them");
static_assert(has(DrmCap::syncobj | DrmCap::syncobj_timeline, DrmCap::syncobj_timeline));
static_assert(!has(DrmCap::syncobj, DrmCap::syncobj | DrmCap::syncobj_timeline), "has() wants every bit");
static_assert(has(DrmCap::syncobj, DrmCap::none));

TEST(Bitmask, CombinesTestsAndClearsBits) {
  DrmCap caps = DrmCap::none;
  caps |= DrmCap::syncobj;
  caps |= DrmCap::syncobj_eventfd;
  EXPECT_TRUE(has(caps, DrmCap::syncobj_eventfd));
  EXPECT_FALSE(has(caps, DrmCap::syncobj_timeline));
  caps &= ~DrmCap::syncobj_eventfd;
  EXPECT_EQ(caps, DrmCap::syncobj);
  EXPECT_EQ(DrmOpenOptions{}.required, DrmCap::syncobj | DrmCap::syncobj_timeline);

  SyncProbe probe;
  EXPECT_FALSE(probe.has(SyncFeature::sw_sync));
  probe.features |= SyncFeature::sw_sync | SyncFeature::sw_sync_get_deadline;
  EXPECT_TRUE(probe.has(SyncFeature::sw_sync_get_deadline));
  EXPECT_FALSE(probe.has(SyncFeature::sync_file_set_deadline));
}

TEST(Bitmask, AnEmptyDeviceHasNoCapability) {
  const DrmDevice empty;
  EXPECT_EQ(empty.caps(), DrmCap::none);
  EXPECT_FALSE(empty.has(DrmCap::syncobj));
}

}  // namespace
}  // namespace syncbridge::testing

// The one out-of-line member of detail::SyncobjHandle (syncbridge/detail/syncobj_handle.h).
#include "syncbridge/detail/syncobj_handle.h"

#include "drm/drm_ops.h"

namespace syncbridge {

namespace drm = detail::drm;

void detail::SyncobjHandle::reset() noexcept {
  if (handle_ != 0) (void)drm::syncobj_destroy(drm_fd_, handle_);
  handle_ = 0;
  drm_fd_ = -1;
  caps_ = DrmCap::none;
}

}  // namespace syncbridge

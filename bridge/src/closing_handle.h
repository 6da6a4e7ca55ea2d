// Move-assignment for the handles whose destructor closes what they hold (SwSyncExporter,
// SyncobjExporter, SyncobjImporter): the target closes its own state first, as its destructor
// would, then takes the source's; the source is left empty. Self-assignment changes nothing.
#pragma once

#include <utility>

namespace syncbridge::detail {

template <class Handle, class StatePtr>
Handle& move_assign_closing(Handle& self, StatePtr& mine, StatePtr&& theirs) noexcept {
  if (&mine != &theirs) {
    self.close();
    mine = std::move(theirs);
  }
  return self;
}

}  // namespace syncbridge::detail

// syncbridge/bitmask.h: typed sets of capability and flag bits.
//
// Model: a set of bits is an enum class, one enumerator per bit plus `none = 0`, never a bare
// integer: a DrmCap cannot be passed where a SyncobjWait flag is expected. An enum opts in with
//   template <> inline constexpr bool enable_bitmask<MyBits> = true;
// and gets |, &, ~, |=, &= and has(set, wanted) (true when every wanted bit is in set), the same
// operations VulkanCaps (vulkan_device.h) spells out by hand. bits(set) is the raw integer, for
// the one place that hands it to the kernel.
// Used by DrmCap (drm_device.h), SyncobjWait (binary_syncobj.h) and SyncFeature
// (kernel_probe.h). Plain values: no fd, nothing owned.
#pragma once

#include <type_traits>

namespace syncbridge {

template <class E>
inline constexpr bool enable_bitmask = false;

template <class E>
concept Bitmask = std::is_enum_v<E> && enable_bitmask<E>;

template <Bitmask E>
constexpr std::underlying_type_t<E> bits(E set) noexcept {
  return static_cast<std::underlying_type_t<E>>(set);
}
template <Bitmask E>
constexpr E operator|(E a, E b) noexcept {
  return static_cast<E>(bits(a) | bits(b));
}
template <Bitmask E>
constexpr E operator&(E a, E b) noexcept {
  return static_cast<E>(bits(a) & bits(b));
}
template <Bitmask E>
constexpr E operator~(E a) noexcept {
  return static_cast<E>(~bits(a));
}
template <Bitmask E>
constexpr E& operator|=(E& a, E b) noexcept {
  return a = a | b;
}
template <Bitmask E>
constexpr E& operator&=(E& a, E b) noexcept {
  return a = a & b;
}
// Every bit of wanted is in set (true for wanted == none).
template <Bitmask E>
constexpr bool has(E set, E wanted) noexcept {
  return (set & wanted) == wanted;
}

}  // namespace syncbridge

// syncbridge-probe's findings: what it probed (main.cpp) and how it prints them (report.cpp).
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "syncbridge/vulkan_caps.h"
#include "syncbridge/vulkan_context.h"

namespace probe {

using syncbridge::VulkanDeviceChoice;

// /proc/sys/kernel/tainted around the creation of one sw_sync timeline and fence: a recent upstream
// change makes sw_sync (a test-only interface) taint the kernel, which CI kernels that fail on
// any taint then trip over.
struct TaintCheck {
  std::optional<bool> taints;  // null: not probed (no sw_sync, or the taint file unreadable)
  std::optional<std::uint64_t> before, after;
  std::string new_flags;  // letters of the flags set in between, as in "Tainted: G W N"
  std::string note;
};

// /dev/udmabuf turns memfd pages into dma-bufs: a CPU Vulkan driver such as Mesa's lavapipe
// offers SYNC_FD semaphore/fence import and export only where it can open it.
struct Udmabuf {
  bool present = false, openable = false;
  std::string note;
};

struct Kernel {
  std::string release;
  bool sw_sync = false;
  std::string sw_sync_status;  // "available", "permission denied", "missing"
  std::string sw_sync_note;
  TaintCheck taint;
  std::optional<bool> deadline;  // unknown without sw_sync to try it on
  Udmabuf udmabuf;
  std::vector<std::string> notes;
};

struct Node {
  std::string path, driver;
  bool opened = false, syncobj = false, timeline = false, eventfd = false;
  std::string error;
  std::vector<std::string> notes;
};

struct VkDev {
  VulkanDeviceChoice choice;
  std::string syncobj_check;  // "confirmed", "refused: ...", "not tried: ..."
  std::optional<bool> opaque_is_syncobj;
};

struct Path {
  std::string input, wait_path, completion_path;
  bool complete = false;
  std::string why;
};

// Everything the probe found, in the order it reports it.
struct Findings {
  Kernel kernel;
  std::vector<Node> nodes;
  std::string vulkan_error;  // empty: the loader listed devices
  std::vector<VkDev> devices;
  std::vector<std::vector<Path>> paths;  // per device, as devices
  bool any_complete = false;             // at least one complete CPU -> GPU -> CPU path
};

std::string hex(std::uint64_t v);
void print_json(const Findings& f);
void print_text(const Findings& f);

}  // namespace probe

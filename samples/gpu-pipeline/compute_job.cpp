#include "compute_job.h"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "transform_spv.h"

namespace gpu_pipeline {

using syncbridge::Errc;
using syncbridge::Error;
using syncbridge::Result;
using syncbridge::vulkan_error;

namespace {

// The application-side entry points this sample calls (loaded from the context): member, then
// the entry point, from the instance (I) or the device (D); loaded by load() below.
#define SB_SAMPLE_FNS(I, D)                                           \
  I(get_memory_properties, vkGetPhysicalDeviceMemoryProperties)       \
  I(get_properties, vkGetPhysicalDeviceProperties)                    \
  I(get_queue_families, vkGetPhysicalDeviceQueueFamilyProperties)     \
  I(get_time_domains, vkGetPhysicalDeviceCalibrateableTimeDomainsEXT) \
  D(create_buffer, vkCreateBuffer)                                    \
  D(destroy_buffer, vkDestroyBuffer)                                  \
  D(get_buffer_requirements, vkGetBufferMemoryRequirements)           \
  D(allocate_memory, vkAllocateMemory)                                \
  D(free_memory, vkFreeMemory)                                        \
  D(bind_buffer_memory, vkBindBufferMemory)                           \
  D(map_memory, vkMapMemory)                                          \
  D(create_shader_module, vkCreateShaderModule)                       \
  D(destroy_shader_module, vkDestroyShaderModule)                     \
  D(create_set_layout, vkCreateDescriptorSetLayout)                   \
  D(destroy_set_layout, vkDestroyDescriptorSetLayout)                 \
  D(create_pipeline_layout, vkCreatePipelineLayout)                   \
  D(destroy_pipeline_layout, vkDestroyPipelineLayout)                 \
  D(create_compute_pipelines, vkCreateComputePipelines)               \
  D(destroy_pipeline, vkDestroyPipeline)                              \
  D(create_descriptor_pool, vkCreateDescriptorPool)                   \
  D(destroy_descriptor_pool, vkDestroyDescriptorPool)                 \
  D(allocate_sets, vkAllocateDescriptorSets)                          \
  D(update_sets, vkUpdateDescriptorSets)                              \
  D(create_command_pool, vkCreateCommandPool)                         \
  D(destroy_command_pool, vkDestroyCommandPool)                       \
  D(allocate_command_buffers, vkAllocateCommandBuffers)               \
  D(begin, vkBeginCommandBuffer)                                      \
  D(end, vkEndCommandBuffer)                                          \
  D(cmd_bind_pipeline, vkCmdBindPipeline)                             \
  D(cmd_bind_sets, vkCmdBindDescriptorSets)                           \
  D(cmd_push_constants, vkCmdPushConstants)                           \
  D(cmd_dispatch, vkCmdDispatch)                                      \
  D(cmd_barrier2, vkCmdPipelineBarrier2)                              \
  D(cmd_reset_query_pool, vkCmdResetQueryPool)                        \
  D(cmd_write_timestamp2, vkCmdWriteTimestamp2)                       \
  D(create_query_pool, vkCreateQueryPool)                             \
  D(destroy_query_pool, vkDestroyQueryPool)                           \
  D(get_query_results, vkGetQueryPoolResults)                         \
  D(queue_submit2, vkQueueSubmit2)                                    \
  D(queue_wait_idle, vkQueueWaitIdle)                                 \
  D(create_semaphore, vkCreateSemaphore)                              \
  D(destroy_semaphore, vkDestroySemaphore)                            \
  D(signal_semaphore, vkSignalSemaphore)                              \
  D(wait_semaphores, vkWaitSemaphores)

struct Fns {
#define SB_DECLARE(member, name) PFN_##name member = nullptr;
  SB_SAMPLE_FNS(SB_DECLARE, SB_DECLARE)
#undef SB_DECLARE
};

Fns load(syncbridge::VulkanContext& c) {
  Fns f;
#define SB_INSTANCE(member, name) f.member = c.instance_fn<PFN_##name>(#name);
#define SB_DEVICE(member, name) f.member = c.device_fn<PFN_##name>(#name);
  SB_SAMPLE_FNS(SB_INSTANCE, SB_DEVICE)
#undef SB_INSTANCE
#undef SB_DEVICE
  // synchronization2 on a 1.2 device: the KHR extension's names.
  if (!f.cmd_barrier2) f.cmd_barrier2 = c.device_fn<PFN_vkCmdPipelineBarrier2>("vkCmdPipelineBarrier2KHR");
  if (!f.cmd_write_timestamp2)
    f.cmd_write_timestamp2 = c.device_fn<PFN_vkCmdWriteTimestamp2>("vkCmdWriteTimestamp2KHR");
  if (!f.queue_submit2) f.queue_submit2 = c.device_fn<PFN_vkQueueSubmit2>("vkQueueSubmit2KHR");
  return f;
}
#undef SB_SAMPLE_FNS

Fns& fns() {
  static Fns f{};
  return f;
}

// One global memory barrier (synchronization2).
void memory_barrier(VkCommandBuffer cmd, VkPipelineStageFlags2 src_stage, VkAccessFlags2 src_access,
                    VkPipelineStageFlags2 dst_stage, VkAccessFlags2 dst_access) {
  VkMemoryBarrier2 barrier{};
  barrier.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER_2;
  barrier.srcStageMask = src_stage;
  barrier.srcAccessMask = src_access;
  barrier.dstStageMask = dst_stage;
  barrier.dstAccessMask = dst_access;
  VkDependencyInfo dep{};
  dep.sType = VK_STRUCTURE_TYPE_DEPENDENCY_INFO;
  dep.memoryBarrierCount = 1;
  dep.pMemoryBarriers = &barrier;
  fns().cmd_barrier2(cmd, &dep);
}

}  // namespace

Result<std::unique_ptr<ComputeJob>> ComputeJob::create(syncbridge::VulkanContext& ctx, std::uint32_t slots,
                                                       std::uint32_t elements) {
  std::unique_ptr<ComputeJob> job(new ComputeJob(ctx));
  fns() = load(ctx);
  if (auto r = job->init(slots, elements); !r) return std::move(r).error();
  if (auto r = job->reset_queries(); !r) return std::move(r).error();
  return job;
}

// Once, before any frame: a query is unreadable until it was first reset, and gpu_state() may
// look at a slot before its first command buffer (which resets its queries) has run.
Result<void> ComputeJob::reset_queries() {
  last_start_ = std::make_unique<std::atomic<std::uint64_t>[]>(slots_.size());
  for (std::size_t s = 0; s < slots_.size(); ++s) last_start_[s] = ~0ull;
  if (!timestamps_) return {};
  auto& f = fns();
  auto cmd = begin_commands(VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT);  // freed with the pool
  if (!cmd) return std::move(cmd).error();
  f.cmd_reset_query_pool(*cmd, query_pool_, 0, 2 * slots());
  if (VkResult r = f.end(*cmd); r != VK_SUCCESS) return vulkan_error(r, "vkEndCommandBuffer");
  std::lock_guard guard(ctx_.queue_mutex());
  if (VkResult r = submit_locked(*cmd, {}, {}); r != VK_SUCCESS) return vulkan_error(r, "vkQueueSubmit2");
  if (VkResult r = f.queue_wait_idle(ctx_.queue()); r != VK_SUCCESS) return vulkan_error(r, "vkQueueWaitIdle");
  return {};
}

// A new primary command buffer of the pool, begun.
Result<VkCommandBuffer> ComputeJob::begin_commands(VkCommandBufferUsageFlags usage) {
  auto& f = fns();
  VkCommandBufferAllocateInfo cbai{};
  cbai.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
  cbai.commandPool = command_pool_;
  cbai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  cbai.commandBufferCount = 1;
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  if (VkResult r = f.allocate_command_buffers(ctx_.device(), &cbai, &cmd); r != VK_SUCCESS)
    return vulkan_error(r, "vkAllocateCommandBuffers");
  VkCommandBufferBeginInfo cbbi{};
  cbbi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
  cbbi.flags = usage;
  if (VkResult r = f.begin(cmd, &cbbi); r != VK_SUCCESS) return vulkan_error(r, "vkBeginCommandBuffer");
  return cmd;
}

// One vkQueueSubmit2 of `cmd`; the caller holds the context's queue lock.
VkResult ComputeJob::submit_locked(VkCommandBuffer cmd, const std::vector<VkSemaphoreSubmitInfo>& waits,
                                   const std::vector<VkSemaphoreSubmitInfo>& signals) {
  VkCommandBufferSubmitInfo cbi{};
  cbi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO;
  cbi.commandBuffer = cmd;
  VkSubmitInfo2 si{};
  si.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO_2;
  si.waitSemaphoreInfoCount = static_cast<std::uint32_t>(waits.size());
  si.pWaitSemaphoreInfos = waits.data();
  si.commandBufferInfoCount = 1;
  si.pCommandBufferInfos = &cbi;
  si.signalSemaphoreInfoCount = static_cast<std::uint32_t>(signals.size());
  si.pSignalSemaphoreInfos = signals.data();
  return fns().queue_submit2(ctx_.queue(), 1, &si, VK_NULL_HANDLE);
}

Result<VkBuffer> ComputeJob::make_buffer(VkDeviceMemory& memory, void*& map, VkDeviceSize size) {
  auto& f = fns();
  VkDevice dev = ctx_.device();
  VkBufferCreateInfo bi{};
  bi.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
  bi.size = size;
  bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
  bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VkBuffer buf = VK_NULL_HANDLE;
  if (VkResult r = f.create_buffer(dev, &bi, nullptr, &buf); r != VK_SUCCESS) return vulkan_error(r, "vkCreateBuffer");
  VkMemoryRequirements req{};
  f.get_buffer_requirements(dev, buf, &req);
  VkPhysicalDeviceMemoryProperties mp{};
  f.get_memory_properties(ctx_.physical_device(), &mp);
  const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  std::uint32_t type = UINT32_MAX;
  for (std::uint32_t i = 0; i < mp.memoryTypeCount; ++i) {
    if ((req.memoryTypeBits & (1u << i)) && (mp.memoryTypes[i].propertyFlags & want) == want) {
      // Prefer cached memory: the consumer reads every element back.
      if (type == UINT32_MAX || (mp.memoryTypes[i].propertyFlags & VK_MEMORY_PROPERTY_HOST_CACHED_BIT)) type = i;
    }
  }
  if (type == UINT32_MAX) {
    f.destroy_buffer(dev, buf, nullptr);
    return Error(Errc::unsupported, EOPNOTSUPP, "no host-visible coherent memory type for a storage buffer");
  }
  VkMemoryAllocateInfo ai{};
  ai.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
  ai.allocationSize = req.size;
  ai.memoryTypeIndex = type;
  if (VkResult r = f.allocate_memory(dev, &ai, nullptr, &memory); r != VK_SUCCESS) {
    f.destroy_buffer(dev, buf, nullptr);
    return vulkan_error(r, "vkAllocateMemory");
  }
  if (VkResult r = f.bind_buffer_memory(dev, buf, memory, 0); r != VK_SUCCESS)
    return vulkan_error(r, "vkBindBufferMemory");
  if (VkResult r = f.map_memory(dev, memory, 0, VK_WHOLE_SIZE, 0, &map); r != VK_SUCCESS)
    return vulkan_error(r, "vkMapMemory");
  return buf;
}

Result<void> ComputeJob::init(std::uint32_t slot_count, std::uint32_t elements) {
  elements_ = elements;
  if (auto r = create_pipeline(); !r) return r;
  if (auto r = create_pools(slot_count); !r) return r;
  if (auto r = init_timestamps(slot_count); !r) return r;
  slots_.resize(slot_count);
  for (std::uint32_t s = 0; s < slot_count; ++s) {
    if (auto r = init_slot(s); !r) return r;
    if (auto r = record(s); !r) return r;
  }
  return {};
}

// The transform shader's compute pipeline: two storage buffers (in, out) and the element count
// as a push constant.
Result<void> ComputeJob::create_pipeline() {
  auto& f = fns();
  VkDevice dev = ctx_.device();
  const VkShaderModuleCreateInfo smi{
      .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, .codeSize = sizeof(transform_spv), .pCode = transform_spv};
  if (VkResult r = f.create_shader_module(dev, &smi, nullptr, &shader_); r != VK_SUCCESS)
    return vulkan_error(r, "vkCreateShaderModule");

  VkDescriptorSetLayoutBinding bindings[2]{};
  for (std::uint32_t i = 0; i < 2; ++i) {
    bindings[i].binding = i;
    bindings[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    bindings[i].descriptorCount = 1;
    bindings[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
  }
  const VkDescriptorSetLayoutCreateInfo dli{
      .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, .bindingCount = 2, .pBindings = bindings};
  if (VkResult r = f.create_set_layout(dev, &dli, nullptr, &set_layout_); r != VK_SUCCESS)
    return vulkan_error(r, "vkCreateDescriptorSetLayout");
  const VkPushConstantRange pcr{VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(std::uint32_t)};
  const VkPipelineLayoutCreateInfo pli{.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                       .setLayoutCount = 1,
                                       .pSetLayouts = &set_layout_,
                                       .pushConstantRangeCount = 1,
                                       .pPushConstantRanges = &pcr};
  if (VkResult r = f.create_pipeline_layout(dev, &pli, nullptr, &pipeline_layout_); r != VK_SUCCESS)
    return vulkan_error(r, "vkCreatePipelineLayout");
  const VkComputePipelineCreateInfo cpi{.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
                                        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                                                  .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                                                  .module = shader_,
                                                  .pName = "main"},
                                        .layout = pipeline_layout_};
  if (VkResult r = f.create_compute_pipelines(dev, VK_NULL_HANDLE, 1, &cpi, nullptr, &pipeline_); r != VK_SUCCESS)
    return vulkan_error(r, "vkCreateComputePipelines");
  return {};
}

// One descriptor set per slot, and the pool of the command buffers.
Result<void> ComputeJob::create_pools(std::uint32_t slot_count) {
  auto& f = fns();
  VkDevice dev = ctx_.device();
  const VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 2 * slot_count};
  const VkDescriptorPoolCreateInfo dpi{.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                       .maxSets = slot_count,
                                       .poolSizeCount = 1,
                                       .pPoolSizes = &ps};
  if (VkResult r = f.create_descriptor_pool(dev, &dpi, nullptr, &descriptor_pool_); r != VK_SUCCESS)
    return vulkan_error(r, "vkCreateDescriptorPool");
  const VkCommandPoolCreateInfo cpci{.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                     .queueFamilyIndex = ctx_.queue_family()};
  if (VkResult r = f.create_command_pool(dev, &cpci, nullptr, &command_pool_); r != VK_SUCCESS)
    return vulkan_error(r, "vkCreateCommandPool");
  return {};
}

// Timestamps: need valid bits on the queue family and a CLOCK_MONOTONIC calibration. Without
// them the job runs untimed and timestamp_note() says why.
Result<void> ComputeJob::init_timestamps(std::uint32_t slot_count) {
  auto& f = fns();
  std::uint32_t qn = 0;
  f.get_queue_families(ctx_.physical_device(), &qn, nullptr);
  std::vector<VkQueueFamilyProperties> qf(qn);
  f.get_queue_families(ctx_.physical_device(), &qn, qf.data());
  const std::uint32_t valid_bits = qf[ctx_.queue_family()].timestampValidBits;
  VkPhysicalDeviceProperties props{};
  f.get_properties(ctx_.physical_device(), &props);
  period_ns_ = static_cast<double>(props.limits.timestampPeriod);
  timestamp_mask_ = valid_bits >= 64 ? ~0ull : ((1ull << valid_bits) - 1);
  get_calibrated_ = ctx_.device_fn<PFN_vkGetCalibratedTimestampsEXT>("vkGetCalibratedTimestampsEXT");
  bool monotonic_domain = false;
  if (get_calibrated_ && f.get_time_domains) {
    std::uint32_t n = 0;
    f.get_time_domains(ctx_.physical_device(), &n, nullptr);
    std::vector<VkTimeDomainEXT> domains(n);
    f.get_time_domains(ctx_.physical_device(), &n, domains.data());
    const bool has_dev = std::find(domains.begin(), domains.end(), VK_TIME_DOMAIN_DEVICE_EXT) != domains.end();
    monotonic_domain =
        has_dev && std::find(domains.begin(), domains.end(), VK_TIME_DOMAIN_CLOCK_MONOTONIC_EXT) != domains.end();
  }
  if (valid_bits == 0)
    timestamp_note_ = "the queue family has no timestamps";
  else if (!get_calibrated_)
    timestamp_note_ = "no VK_EXT_calibrated_timestamps";
  else if (!monotonic_domain)
    timestamp_note_ = "no DEVICE + CLOCK_MONOTONIC calibration domains";
  timestamps_ = timestamp_note_.empty();
  if (!timestamps_) return {};
  VkQueryPoolCreateInfo qpi{};
  qpi.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO;
  qpi.queryType = VK_QUERY_TYPE_TIMESTAMP;
  qpi.queryCount = 2 * slot_count;
  if (VkResult r = f.create_query_pool(ctx_.device(), &qpi, nullptr, &query_pool_); r != VK_SUCCESS)
    return vulkan_error(r, "vkCreateQueryPool");
  calibrate();
  return {};
}

// The slot's input and output buffers (mapped) and its descriptor set naming them.
Result<void> ComputeJob::init_slot(std::uint32_t s) {
  auto& f = fns();
  VkDevice dev = ctx_.device();
  const VkDeviceSize bytes = VkDeviceSize{elements_} * sizeof(std::uint32_t);
  Slot& sl = slots_[s];
  void* in_map = nullptr;
  void* out_map = nullptr;
  auto in = make_buffer(sl.in_mem, in_map, bytes);
  if (!in) return std::move(in).error();
  sl.in = *in;
  auto out = make_buffer(sl.out_mem, out_map, bytes);
  if (!out) return std::move(out).error();
  sl.out = *out;
  sl.in_map = static_cast<std::uint32_t*>(in_map);
  sl.out_map = static_cast<std::uint32_t*>(out_map);

  VkDescriptorSetAllocateInfo dsai{};
  dsai.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO;
  dsai.descriptorPool = descriptor_pool_;
  dsai.descriptorSetCount = 1;
  dsai.pSetLayouts = &set_layout_;
  if (VkResult r = f.allocate_sets(dev, &dsai, &sl.set); r != VK_SUCCESS)
    return vulkan_error(r, "vkAllocateDescriptorSets");
  VkDescriptorBufferInfo dbi[2] = {{sl.in, 0, VK_WHOLE_SIZE}, {sl.out, 0, VK_WHOLE_SIZE}};
  VkWriteDescriptorSet w[2]{};
  for (std::uint32_t i = 0; i < 2; ++i) {
    w[i].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
    w[i].dstSet = sl.set;
    w[i].dstBinding = i;
    w[i].descriptorCount = 1;
    w[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    w[i].pBufferInfo = &dbi[i];
  }
  f.update_sets(dev, 2, w, 0, nullptr);
  return {};
}

// The slot's command buffer, recorded once: start timestamp, host writes made visible, the
// dispatch, shader writes made visible to the host, end timestamp.
Result<void> ComputeJob::record(std::uint32_t s) {
  auto& f = fns();
  Slot& sl = slots_[s];
  auto cmd = begin_commands(0);
  if (!cmd) return std::move(cmd).error();
  sl.cmd = *cmd;
  if (timestamps_) {
    f.cmd_reset_query_pool(sl.cmd, query_pool_, 2 * s, 2);
    f.cmd_write_timestamp2(sl.cmd, VK_PIPELINE_STAGE_2_TOP_OF_PIPE_BIT, query_pool_, 2 * s);
  }
  // Host writes before the (host-signaled) semaphore reach the shader: make them visible.
  memory_barrier(sl.cmd, VK_PIPELINE_STAGE_2_HOST_BIT, VK_ACCESS_2_HOST_WRITE_BIT,
                 VK_PIPELINE_STAGE_2_COMPUTE_SHADER_BIT,
                 VK_ACCESS_2_SHADER_STORAGE_READ_BIT | VK_ACCESS_2_SHADER_STORAGE_WRITE_BIT);
  f.cmd_bind_pipeline(sl.cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline_);
  f.cmd_bind_sets(sl.cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline_layout_, 0, 1, &sl.set, 0, nullptr);
  f.cmd_push_constants(sl.cmd, pipeline_layout_, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(elements_), &elements_);
  f.cmd_dispatch(sl.cmd, (elements_ + 63) / 64, 1, 1);
  memory_barrier(sl.cmd, VK_PIPELINE_STAGE_2_COMPUTE_SHADER_BIT, VK_ACCESS_2_SHADER_STORAGE_WRITE_BIT,
                 VK_PIPELINE_STAGE_2_HOST_BIT, VK_ACCESS_2_HOST_READ_BIT);
  if (timestamps_) f.cmd_write_timestamp2(sl.cmd, VK_PIPELINE_STAGE_2_BOTTOM_OF_PIPE_BIT, query_pool_, 2 * s + 1);
  if (VkResult r = f.end(sl.cmd); r != VK_SUCCESS) return vulkan_error(r, "vkEndCommandBuffer");
  return {};
}

void ComputeJob::calibrate() {
  if (!timestamps_) return;
  VkCalibratedTimestampInfoEXT infos[2]{};
  infos[0].sType = infos[1].sType = VK_STRUCTURE_TYPE_CALIBRATED_TIMESTAMP_INFO_EXT;
  infos[0].timeDomain = VK_TIME_DOMAIN_DEVICE_EXT;
  infos[1].timeDomain = VK_TIME_DOMAIN_CLOCK_MONOTONIC_EXT;
  // Take the sample with the smallest deviation out of a few.
  std::uint64_t best_dev = ~0ull;
  for (int i = 0; i < 8; ++i) {
    std::uint64_t ts[2] = {0, 0};
    std::uint64_t deviation = 0;
    if (get_calibrated_(ctx_.device(), 2, infos, ts, &deviation) != VK_SUCCESS) continue;
    if (deviation < best_dev) {
      best_dev = deviation;
      cal_gpu_ns_ = static_cast<std::int64_t>(static_cast<double>(ts[0] & timestamp_mask_) * period_ns_);
      cal_cpu_ns_ = static_cast<std::int64_t>(ts[1]);
    }
  }
}

std::int64_t ComputeJob::to_monotonic_ns(std::uint64_t ticks) const {
  const auto gpu_ns = static_cast<std::int64_t>(static_cast<double>(ticks & timestamp_mask_) * period_ns_);
  return cal_cpu_ns_ + (gpu_ns - cal_gpu_ns_);
}

std::optional<std::pair<std::int64_t, std::int64_t>> ComputeJob::gpu_times(std::uint32_t slot) {
  if (!timestamps_) return std::nullopt;
  std::uint64_t ts[2] = {0, 0};
  const VkResult r = fns().get_query_results(ctx_.device(), query_pool_, 2 * slot, 2, sizeof(ts), ts,
                                             sizeof(std::uint64_t), VK_QUERY_RESULT_64_BIT);
  if (r != VK_SUCCESS) return std::nullopt;
  last_start_[slot].store(ts[0]);
  return std::make_pair(to_monotonic_ns(ts[0]), to_monotonic_ns(ts[1]));
}

ComputeJob::GpuState ComputeJob::gpu_state(std::uint32_t slot) {
  if (!timestamps_) return GpuState::unknown;
  // {start, its availability, end, its availability}; without WAIT_BIT an unavailable query
  // leaves its value alone and only its availability (0) is written.
  std::uint64_t q[4] = {0, 0, 0, 0};
  (void)fns().get_query_results(ctx_.device(), query_pool_, 2 * slot, 2, sizeof(q), q, 2 * sizeof(std::uint64_t),
                                VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WITH_AVAILABILITY_BIT);
  if (!q[1] || q[0] == last_start_[slot].load()) return GpuState::not_started;
  return q[3] ? GpuState::finished : GpuState::running;
}

VkResult ComputeJob::submit(std::uint32_t slot, const std::vector<VkSemaphoreSubmitInfo>& waits,
                            const std::vector<VkSemaphoreSubmitInfo>& signals) {
  std::lock_guard guard(ctx_.queue_mutex());
  return submit_locked(slots_[slot].cmd, waits, signals);
}

VkSemaphore ComputeJob::make_timeline_semaphore() {
  VkSemaphoreTypeCreateInfo type{};
  type.sType = VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO;
  type.semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE;
  VkSemaphoreCreateInfo ci{};
  ci.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO;
  ci.pNext = &type;
  VkSemaphore s = VK_NULL_HANDLE;
  if (fns().create_semaphore(ctx_.device(), &ci, nullptr, &s) != VK_SUCCESS) return VK_NULL_HANDLE;
  semaphores_.push_back(s);
  return s;
}

VkResult ComputeJob::host_signal(VkSemaphore s, std::uint64_t value) {
  VkSemaphoreSignalInfo si{};
  si.sType = VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO;
  si.semaphore = s;
  si.value = value;
  return fns().signal_semaphore(ctx_.device(), &si);
}

VkResult ComputeJob::host_wait(VkSemaphore s, std::uint64_t value, std::uint64_t timeout_ns) {
  VkSemaphoreWaitInfo wi{};
  wi.sType = VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO;
  wi.semaphoreCount = 1;
  wi.pSemaphores = &s;
  wi.pValues = &value;
  return fns().wait_semaphores(ctx_.device(), &wi, timeout_ns);
}

void ComputeJob::wait_idle() {
  std::lock_guard guard(ctx_.queue_mutex());
  (void)fns().queue_wait_idle(ctx_.queue());
}

ComputeJob::~ComputeJob() {
  auto& f = fns();
  VkDevice dev = ctx_.device();
  wait_idle();
  for (VkSemaphore s : semaphores_) f.destroy_semaphore(dev, s, nullptr);
  for (auto& sl : slots_) {
    if (sl.in) f.destroy_buffer(dev, sl.in, nullptr);
    if (sl.out) f.destroy_buffer(dev, sl.out, nullptr);
    if (sl.in_mem) f.free_memory(dev, sl.in_mem, nullptr);
    if (sl.out_mem) f.free_memory(dev, sl.out_mem, nullptr);
  }
  if (query_pool_) f.destroy_query_pool(dev, query_pool_, nullptr);
  if (command_pool_) f.destroy_command_pool(dev, command_pool_, nullptr);
  if (descriptor_pool_) f.destroy_descriptor_pool(dev, descriptor_pool_, nullptr);
  if (pipeline_) f.destroy_pipeline(dev, pipeline_, nullptr);
  if (pipeline_layout_) f.destroy_pipeline_layout(dev, pipeline_layout_, nullptr);
  if (set_layout_) f.destroy_set_layout(dev, set_layout_, nullptr);
  if (shader_) f.destroy_shader_module(dev, shader_, nullptr);
}

}  // namespace gpu_pipeline

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

// The application-side entry points this sample calls (loaded from the context's device).
struct Fns {
  PFN_vkGetPhysicalDeviceMemoryProperties get_memory_properties;
  PFN_vkGetPhysicalDeviceProperties get_properties;
  PFN_vkGetPhysicalDeviceQueueFamilyProperties get_queue_families;
  PFN_vkGetPhysicalDeviceCalibrateableTimeDomainsEXT get_time_domains;
  PFN_vkCreateBuffer create_buffer;
  PFN_vkDestroyBuffer destroy_buffer;
  PFN_vkGetBufferMemoryRequirements get_buffer_requirements;
  PFN_vkAllocateMemory allocate_memory;
  PFN_vkFreeMemory free_memory;
  PFN_vkBindBufferMemory bind_buffer_memory;
  PFN_vkMapMemory map_memory;
  PFN_vkCreateShaderModule create_shader_module;
  PFN_vkDestroyShaderModule destroy_shader_module;
  PFN_vkCreateDescriptorSetLayout create_set_layout;
  PFN_vkDestroyDescriptorSetLayout destroy_set_layout;
  PFN_vkCreatePipelineLayout create_pipeline_layout;
  PFN_vkDestroyPipelineLayout destroy_pipeline_layout;
  PFN_vkCreateComputePipelines create_compute_pipelines;
  PFN_vkDestroyPipeline destroy_pipeline;
  PFN_vkCreateDescriptorPool create_descriptor_pool;
  PFN_vkDestroyDescriptorPool destroy_descriptor_pool;
  PFN_vkAllocateDescriptorSets allocate_sets;
  PFN_vkUpdateDescriptorSets update_sets;
  PFN_vkCreateCommandPool create_command_pool;
  PFN_vkDestroyCommandPool destroy_command_pool;
  PFN_vkAllocateCommandBuffers allocate_command_buffers;
  PFN_vkBeginCommandBuffer begin;
  PFN_vkEndCommandBuffer end;
  PFN_vkCmdBindPipeline cmd_bind_pipeline;
  PFN_vkCmdBindDescriptorSets cmd_bind_sets;
  PFN_vkCmdPushConstants cmd_push_constants;
  PFN_vkCmdDispatch cmd_dispatch;
  PFN_vkCmdPipelineBarrier2 cmd_barrier2;
  PFN_vkCmdResetQueryPool cmd_reset_query_pool;
  PFN_vkCmdWriteTimestamp2 cmd_write_timestamp2;
  PFN_vkCreateQueryPool create_query_pool;
  PFN_vkDestroyQueryPool destroy_query_pool;
  PFN_vkGetQueryPoolResults get_query_results;
  PFN_vkQueueSubmit2 queue_submit2;
  PFN_vkQueueWaitIdle queue_wait_idle;
  PFN_vkCreateSemaphore create_semaphore;
  PFN_vkDestroySemaphore destroy_semaphore;
  PFN_vkSignalSemaphore signal_semaphore;
  PFN_vkWaitSemaphores wait_semaphores;
};

Fns load(syncbridge::VulkanContext& c) {
  Fns f{};
  f.get_memory_properties = c.instance_fn<PFN_vkGetPhysicalDeviceMemoryProperties>("vkGetPhysicalDeviceMemoryProperties");
  f.get_properties = c.instance_fn<PFN_vkGetPhysicalDeviceProperties>("vkGetPhysicalDeviceProperties");
  f.get_queue_families = c.instance_fn<PFN_vkGetPhysicalDeviceQueueFamilyProperties>("vkGetPhysicalDeviceQueueFamilyProperties");
  f.get_time_domains = c.instance_fn<PFN_vkGetPhysicalDeviceCalibrateableTimeDomainsEXT>(
      "vkGetPhysicalDeviceCalibrateableTimeDomainsEXT");
  f.create_buffer = c.device_fn<PFN_vkCreateBuffer>("vkCreateBuffer");
  f.destroy_buffer = c.device_fn<PFN_vkDestroyBuffer>("vkDestroyBuffer");
  f.get_buffer_requirements = c.device_fn<PFN_vkGetBufferMemoryRequirements>("vkGetBufferMemoryRequirements");
  f.allocate_memory = c.device_fn<PFN_vkAllocateMemory>("vkAllocateMemory");
  f.free_memory = c.device_fn<PFN_vkFreeMemory>("vkFreeMemory");
  f.bind_buffer_memory = c.device_fn<PFN_vkBindBufferMemory>("vkBindBufferMemory");
  f.map_memory = c.device_fn<PFN_vkMapMemory>("vkMapMemory");
  f.create_shader_module = c.device_fn<PFN_vkCreateShaderModule>("vkCreateShaderModule");
  f.destroy_shader_module = c.device_fn<PFN_vkDestroyShaderModule>("vkDestroyShaderModule");
  f.create_set_layout = c.device_fn<PFN_vkCreateDescriptorSetLayout>("vkCreateDescriptorSetLayout");
  f.destroy_set_layout = c.device_fn<PFN_vkDestroyDescriptorSetLayout>("vkDestroyDescriptorSetLayout");
  f.create_pipeline_layout = c.device_fn<PFN_vkCreatePipelineLayout>("vkCreatePipelineLayout");
  f.destroy_pipeline_layout = c.device_fn<PFN_vkDestroyPipelineLayout>("vkDestroyPipelineLayout");
  f.create_compute_pipelines = c.device_fn<PFN_vkCreateComputePipelines>("vkCreateComputePipelines");
  f.destroy_pipeline = c.device_fn<PFN_vkDestroyPipeline>("vkDestroyPipeline");
  f.create_descriptor_pool = c.device_fn<PFN_vkCreateDescriptorPool>("vkCreateDescriptorPool");
  f.destroy_descriptor_pool = c.device_fn<PFN_vkDestroyDescriptorPool>("vkDestroyDescriptorPool");
  f.allocate_sets = c.device_fn<PFN_vkAllocateDescriptorSets>("vkAllocateDescriptorSets");
  f.update_sets = c.device_fn<PFN_vkUpdateDescriptorSets>("vkUpdateDescriptorSets");
  f.create_command_pool = c.device_fn<PFN_vkCreateCommandPool>("vkCreateCommandPool");
  f.destroy_command_pool = c.device_fn<PFN_vkDestroyCommandPool>("vkDestroyCommandPool");
  f.allocate_command_buffers = c.device_fn<PFN_vkAllocateCommandBuffers>("vkAllocateCommandBuffers");
  f.begin = c.device_fn<PFN_vkBeginCommandBuffer>("vkBeginCommandBuffer");
  f.end = c.device_fn<PFN_vkEndCommandBuffer>("vkEndCommandBuffer");
  f.cmd_bind_pipeline = c.device_fn<PFN_vkCmdBindPipeline>("vkCmdBindPipeline");
  f.cmd_bind_sets = c.device_fn<PFN_vkCmdBindDescriptorSets>("vkCmdBindDescriptorSets");
  f.cmd_push_constants = c.device_fn<PFN_vkCmdPushConstants>("vkCmdPushConstants");
  f.cmd_dispatch = c.device_fn<PFN_vkCmdDispatch>("vkCmdDispatch");
  f.cmd_barrier2 = c.device_fn<PFN_vkCmdPipelineBarrier2>("vkCmdPipelineBarrier2");
  if (!f.cmd_barrier2) f.cmd_barrier2 = c.device_fn<PFN_vkCmdPipelineBarrier2>("vkCmdPipelineBarrier2KHR");
  f.cmd_reset_query_pool = c.device_fn<PFN_vkCmdResetQueryPool>("vkCmdResetQueryPool");
  f.cmd_write_timestamp2 = c.device_fn<PFN_vkCmdWriteTimestamp2>("vkCmdWriteTimestamp2");
  if (!f.cmd_write_timestamp2) f.cmd_write_timestamp2 = c.device_fn<PFN_vkCmdWriteTimestamp2>("vkCmdWriteTimestamp2KHR");
  f.create_query_pool = c.device_fn<PFN_vkCreateQueryPool>("vkCreateQueryPool");
  f.destroy_query_pool = c.device_fn<PFN_vkDestroyQueryPool>("vkDestroyQueryPool");
  f.get_query_results = c.device_fn<PFN_vkGetQueryPoolResults>("vkGetQueryPoolResults");
  f.queue_submit2 = c.device_fn<PFN_vkQueueSubmit2>("vkQueueSubmit2");
  if (!f.queue_submit2) f.queue_submit2 = c.device_fn<PFN_vkQueueSubmit2>("vkQueueSubmit2KHR");
  f.queue_wait_idle = c.device_fn<PFN_vkQueueWaitIdle>("vkQueueWaitIdle");
  f.create_semaphore = c.device_fn<PFN_vkCreateSemaphore>("vkCreateSemaphore");
  f.destroy_semaphore = c.device_fn<PFN_vkDestroySemaphore>("vkDestroySemaphore");
  f.signal_semaphore = c.device_fn<PFN_vkSignalSemaphore>("vkSignalSemaphore");
  f.wait_semaphores = c.device_fn<PFN_vkWaitSemaphores>("vkWaitSemaphores");
  return f;
}

Fns& fns() {
  static Fns f{};
  return f;
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
  VkCommandBufferAllocateInfo cbai{};
  cbai.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
  cbai.commandPool = command_pool_;
  cbai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  cbai.commandBufferCount = 1;
  VkCommandBuffer cmd = VK_NULL_HANDLE;  // freed with the pool
  if (VkResult r = f.allocate_command_buffers(ctx_.device(), &cbai, &cmd); r != VK_SUCCESS)
    return vulkan_error(r, "vkAllocateCommandBuffers");
  VkCommandBufferBeginInfo cbbi{};
  cbbi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
  cbbi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  if (VkResult r = f.begin(cmd, &cbbi); r != VK_SUCCESS) return vulkan_error(r, "vkBeginCommandBuffer");
  f.cmd_reset_query_pool(cmd, query_pool_, 0, 2 * slots());
  if (VkResult r = f.end(cmd); r != VK_SUCCESS) return vulkan_error(r, "vkEndCommandBuffer");
  VkCommandBufferSubmitInfo cbi{};
  cbi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO;
  cbi.commandBuffer = cmd;
  VkSubmitInfo2 si{};
  si.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO_2;
  si.commandBufferInfoCount = 1;
  si.pCommandBufferInfos = &cbi;
  std::lock_guard guard(ctx_.queue_mutex());
  if (VkResult r = f.queue_submit2(ctx_.queue(), 1, &si, VK_NULL_HANDLE); r != VK_SUCCESS)
    return vulkan_error(r, "vkQueueSubmit2");
  if (VkResult r = f.queue_wait_idle(ctx_.queue()); r != VK_SUCCESS) return vulkan_error(r, "vkQueueWaitIdle");
  return {};
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
  if (VkResult r = f.bind_buffer_memory(dev, buf, memory, 0); r != VK_SUCCESS) return vulkan_error(r, "vkBindBufferMemory");
  if (VkResult r = f.map_memory(dev, memory, 0, VK_WHOLE_SIZE, 0, &map); r != VK_SUCCESS) return vulkan_error(r, "vkMapMemory");
  return buf;
}

Result<void> ComputeJob::init(std::uint32_t slot_count, std::uint32_t elements) {
  auto& f = fns();
  VkDevice dev = ctx_.device();
  elements_ = elements;
  const VkDeviceSize bytes = VkDeviceSize{elements} * sizeof(std::uint32_t);

  VkShaderModuleCreateInfo smi{};
  smi.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO;
  smi.codeSize = sizeof(transform_spv);
  smi.pCode = transform_spv;
  if (VkResult r = f.create_shader_module(dev, &smi, nullptr, &shader_); r != VK_SUCCESS)
    return vulkan_error(r, "vkCreateShaderModule");

  VkDescriptorSetLayoutBinding bindings[2]{};
  for (std::uint32_t i = 0; i < 2; ++i) {
    bindings[i].binding = i;
    bindings[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    bindings[i].descriptorCount = 1;
    bindings[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
  }
  VkDescriptorSetLayoutCreateInfo dli{};
  dli.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO;
  dli.bindingCount = 2;
  dli.pBindings = bindings;
  if (VkResult r = f.create_set_layout(dev, &dli, nullptr, &set_layout_); r != VK_SUCCESS)
    return vulkan_error(r, "vkCreateDescriptorSetLayout");
  VkPushConstantRange pcr{VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(std::uint32_t)};
  VkPipelineLayoutCreateInfo pli{};
  pli.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO;
  pli.setLayoutCount = 1;
  pli.pSetLayouts = &set_layout_;
  pli.pushConstantRangeCount = 1;
  pli.pPushConstantRanges = &pcr;
  if (VkResult r = f.create_pipeline_layout(dev, &pli, nullptr, &pipeline_layout_); r != VK_SUCCESS)
    return vulkan_error(r, "vkCreatePipelineLayout");
  VkComputePipelineCreateInfo cpi{};
  cpi.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO;
  cpi.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
  cpi.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  cpi.stage.module = shader_;
  cpi.stage.pName = "main";
  cpi.layout = pipeline_layout_;
  if (VkResult r = f.create_compute_pipelines(dev, VK_NULL_HANDLE, 1, &cpi, nullptr, &pipeline_); r != VK_SUCCESS)
    return vulkan_error(r, "vkCreateComputePipelines");

  VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 2 * slot_count};
  VkDescriptorPoolCreateInfo dpi{};
  dpi.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO;
  dpi.maxSets = slot_count;
  dpi.poolSizeCount = 1;
  dpi.pPoolSizes = &ps;
  if (VkResult r = f.create_descriptor_pool(dev, &dpi, nullptr, &descriptor_pool_); r != VK_SUCCESS)
    return vulkan_error(r, "vkCreateDescriptorPool");
  VkCommandPoolCreateInfo cpci{};
  cpci.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
  cpci.queueFamilyIndex = ctx_.queue_family();
  if (VkResult r = f.create_command_pool(dev, &cpci, nullptr, &command_pool_); r != VK_SUCCESS)
    return vulkan_error(r, "vkCreateCommandPool");

  // Timestamps: need valid bits on the queue family and a CLOCK_MONOTONIC calibration.
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
    monotonic_domain = has_dev && std::find(domains.begin(), domains.end(), VK_TIME_DOMAIN_CLOCK_MONOTONIC_EXT) != domains.end();
  }
  if (valid_bits == 0) timestamp_note_ = "the queue family has no timestamps";
  else if (!get_calibrated_) timestamp_note_ = "no VK_EXT_calibrated_timestamps";
  else if (!monotonic_domain) timestamp_note_ = "no DEVICE + CLOCK_MONOTONIC calibration domains";
  timestamps_ = timestamp_note_.empty();
  if (timestamps_) {
    VkQueryPoolCreateInfo qpi{};
    qpi.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO;
    qpi.queryType = VK_QUERY_TYPE_TIMESTAMP;
    qpi.queryCount = 2 * slot_count;
    if (VkResult r = f.create_query_pool(dev, &qpi, nullptr, &query_pool_); r != VK_SUCCESS)
      return vulkan_error(r, "vkCreateQueryPool");
    calibrate();
  }

  slots_.resize(slot_count);
  for (std::uint32_t s = 0; s < slot_count; ++s) {
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
    if (VkResult r = f.allocate_sets(dev, &dsai, &sl.set); r != VK_SUCCESS) return vulkan_error(r, "vkAllocateDescriptorSets");
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

    VkCommandBufferAllocateInfo cbai{};
    cbai.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
    cbai.commandPool = command_pool_;
    cbai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    cbai.commandBufferCount = 1;
    if (VkResult r = f.allocate_command_buffers(dev, &cbai, &sl.cmd); r != VK_SUCCESS)
      return vulkan_error(r, "vkAllocateCommandBuffers");
    VkCommandBufferBeginInfo cbbi{};
    cbbi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
    if (VkResult r = f.begin(sl.cmd, &cbbi); r != VK_SUCCESS) return vulkan_error(r, "vkBeginCommandBuffer");
    if (timestamps_) {
      f.cmd_reset_query_pool(sl.cmd, query_pool_, 2 * s, 2);
      f.cmd_write_timestamp2(sl.cmd, VK_PIPELINE_STAGE_2_TOP_OF_PIPE_BIT, query_pool_, 2 * s);
    }
    // Host writes before the (host-signaled) semaphore reach the shader: make them visible.
    VkMemoryBarrier2 host_to_shader{};
    host_to_shader.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER_2;
    host_to_shader.srcStageMask = VK_PIPELINE_STAGE_2_HOST_BIT;
    host_to_shader.srcAccessMask = VK_ACCESS_2_HOST_WRITE_BIT;
    host_to_shader.dstStageMask = VK_PIPELINE_STAGE_2_COMPUTE_SHADER_BIT;
    host_to_shader.dstAccessMask = VK_ACCESS_2_SHADER_STORAGE_READ_BIT | VK_ACCESS_2_SHADER_STORAGE_WRITE_BIT;
    VkDependencyInfo dep{};
    dep.sType = VK_STRUCTURE_TYPE_DEPENDENCY_INFO;
    dep.memoryBarrierCount = 1;
    dep.pMemoryBarriers = &host_to_shader;
    f.cmd_barrier2(sl.cmd, &dep);
    f.cmd_bind_pipeline(sl.cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline_);
    f.cmd_bind_sets(sl.cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline_layout_, 0, 1, &sl.set, 0, nullptr);
    f.cmd_push_constants(sl.cmd, pipeline_layout_, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(elements), &elements);
    f.cmd_dispatch(sl.cmd, (elements + 63) / 64, 1, 1);
    VkMemoryBarrier2 shader_to_host{};
    shader_to_host.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER_2;
    shader_to_host.srcStageMask = VK_PIPELINE_STAGE_2_COMPUTE_SHADER_BIT;
    shader_to_host.srcAccessMask = VK_ACCESS_2_SHADER_STORAGE_WRITE_BIT;
    shader_to_host.dstStageMask = VK_PIPELINE_STAGE_2_HOST_BIT;
    shader_to_host.dstAccessMask = VK_ACCESS_2_HOST_READ_BIT;
    dep.pMemoryBarriers = &shader_to_host;
    f.cmd_barrier2(sl.cmd, &dep);
    if (timestamps_) f.cmd_write_timestamp2(sl.cmd, VK_PIPELINE_STAGE_2_BOTTOM_OF_PIPE_BIT, query_pool_, 2 * s + 1);
    if (VkResult r = f.end(sl.cmd); r != VK_SUCCESS) return vulkan_error(r, "vkEndCommandBuffer");
  }
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
  const VkResult r = fns().get_query_results(ctx_.device(), query_pool_, 2 * slot, 2, sizeof(ts), ts, sizeof(std::uint64_t),
                                             VK_QUERY_RESULT_64_BIT);
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
  VkCommandBufferSubmitInfo cbi{};
  cbi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO;
  cbi.commandBuffer = slots_[slot].cmd;
  VkSubmitInfo2 si{};
  si.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO_2;
  si.waitSemaphoreInfoCount = static_cast<std::uint32_t>(waits.size());
  si.pWaitSemaphoreInfos = waits.data();
  si.commandBufferInfoCount = 1;
  si.pCommandBufferInfos = &cbi;
  si.signalSemaphoreInfoCount = static_cast<std::uint32_t>(signals.size());
  si.pSignalSemaphoreInfos = signals.data();
  std::lock_guard guard(ctx_.queue_mutex());
  return fns().queue_submit2(ctx_.queue(), 1, &si, VK_NULL_HANDLE);
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

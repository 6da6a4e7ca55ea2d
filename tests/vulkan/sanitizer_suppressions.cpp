// Sanitizer builds: the Vulkan loader, the validation layer and lavapipe (with LLVM) are not
// instrumented, so ThreadSanitizer sees their internal locking only in part and reports races
// inside them (e.g. the layer freeing an object guarded by its own rwlock), and LeakSanitizer
// reports their process-lifetime caches. These hooks suppress reports whose stack goes through
// those libraries only; races and leaks in syncbridge's own code are still reported.
extern "C" {
const char* __tsan_default_suppressions() {
  return "race:libVkLayer_khronos_validation.so\n"
         "race:libvulkan_lvp.so\n"
         "race:libvulkan.so.1\n"
         "race:libLLVM\n"
         "race:libnvidia\n"
         "race:libGLX_nvidia\n"
         "deadlock:libVkLayer_khronos_validation.so\n";
}
const char* __lsan_default_suppressions() {
  return "leak:libVkLayer_khronos_validation.so\n"
         "leak:libvulkan_lvp.so\n"
         "leak:libvulkan.so.1\n"
         "leak:libLLVM\n"
         "leak:libnvidia\n";
}
}

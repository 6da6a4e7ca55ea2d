#!/usr/bin/env bash
# syncbridge hardware run: the probe, the Vulkan test suite and the GPU sample on this machine,
# with every output collected in one folder and a one-screen summary.
#
# Runs FROM A BUILD FOLDER (this script is copied to <build>/tests/hw/ by the build; a copy of
# the build folder, or of <build>/hw-bundle, works on another machine): it needs no compiler,
# no CMake and no package registry. What the machine lacks is said, not assumed:
#   - no Vulkan loader (libvulkan.so.1): the carried one in tests/hw/runtime/ is used;
#   - no libdrm.so.2: the carried one is used;
#   - no libEGL.so.1 / libGLdispatch.so.0 (libglvnd) while the driver is NVIDIA's, which loads
#     them: the carried ones are used (else vkCreateInstance fails, INCOMPATIBLE_DRIVER);
#   - no VK_LAYER_KHRONOS_validation: the carried layer (tests/hw/runtime/layers) is used; if
#     none can load, the tests run WITHOUT validation (SYNCBRIDGE_VK_VALIDATION=optional) and
#     the summary says so;
#   - no Vulkan driver (ICD): found in the usual folders, or in /usr/local/nvidia (containers)
#     through VK_DRIVER_FILES; with none, the Vulkan tests skip and the summary says why.
#
# usage: run-hw.sh [--out DIR] [--frames N] [--quick] [--device INDEX|NAME]
#   --out DIR     where to put the results (default: <build>/hw-results/<host>-<time>)
#   --frames N    frames per round for the sample (default 500)
#   --quick       a short run (a few tests, 50 frames): to check the command itself
#   --device X    the Vulkan device for the tests and the sample (default: the best)
# Output folder: env.txt, probe.json, probe.txt, junit-vulkan.xml, junit-vulkan-stress.xml,
# tests-vulkan.log, tests-vulkan-stress.log, gpu-pipeline.json, gpu-pipeline-validated.json,
# gpu-pipeline-host.json (when auto took another backend), *.stderr, summary.txt.
# Exit status: 0 when every test passed (skips allowed) and the sample verified its data;
# 1 when something failed; 2 when nothing could run.
# No -e (unlike the other scripts): a step that fails is recorded and the run goes on, so that
# the summary reports every step.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(cd "$here/../.." && pwd)
out=""
frames=500
quick=0
device=""
while (($#)); do
  case $1 in
    --out)
      out=$2
      shift 2
      ;;
    --frames)
      frames=$2
      shift 2
      ;;
    --quick)
      quick=1
      shift
      ;;
    --device)
      device=$2
      shift 2
      ;;
    -h | --help)
      sed -n '2,30p' "$0"
      exit 0
      ;;
    *)
      echo "run-hw.sh: unknown option $1" >&2
      exit 2
      ;;
  esac
done
[[ -n $out ]] || out=$build/hw-results/$(hostname -s 2>/dev/null || echo host)-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out" || {
  echo "run-hw.sh: cannot create $out" >&2
  exit 2
}
out=$(cd "$out" && pwd)

probe=$build/samples/probe/syncbridge-probe
sample=$build/samples/gpu-pipeline/syncbridge-gpu-pipeline
tests=$build/tests/vulkan/syncbridge-tests-vulkan
stress=$build/tests/vulkan/syncbridge-tests-vulkan-stress
runtime=$here/runtime
notes=()
note() {
  notes+=("$*")
  echo "run-hw: $*"
}

have_lib() { # is the soname resolvable by the dynamic linker (cache or LD_LIBRARY_PATH), carried copies aside?
  local lib=$1 d
  ldconfig -p 2>/dev/null | grep -q "[[:space:]]$lib " && return 0
  IFS=: read -ra dirs <<<"${LD_LIBRARY_PATH:-}"
  for d in "${dirs[@]}" /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
    [[ -n $d && $d != "$runtime" && -e $d/$lib ]] && return 0
  done
  return 1
}
use_carried() {
  export LD_LIBRARY_PATH=$runtime${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
}

# --- libraries
if ! have_lib libdrm.so.2; then
  if [[ -e $runtime/libdrm.so.2 ]]; then
    use_carried
    note "libdrm.so.2: not on this machine; using the carried copy"
  else note "libdrm.so.2: MISSING (not on this machine, none carried): the programs cannot start"; fi
fi
loader="system"
if ! have_lib libvulkan.so.1; then
  if [[ -e $runtime/libvulkan.so.1 ]]; then
    [[ :${LD_LIBRARY_PATH:-}: == *:$runtime:* ]] || use_carried
    loader="carried"
    note "Vulkan loader: not on this machine; using the carried libvulkan.so.1"
  else
    loader="missing"
    note "Vulkan loader: MISSING (no libvulkan.so.1, none carried): Vulkan tests skip, the sample cannot run"
  fi
fi

# --- Vulkan drivers (ICDs)
icds=()
if [[ -n ${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-} ]]; then
  IFS=: read -ra icds <<<"${VK_DRIVER_FILES:-${VK_ICD_FILENAMES:-}}"
else
  for d in /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d "${XDG_DATA_HOME:-$HOME/.local/share}/vulkan/icd.d"; do
    for f in "$d"/*.json; do [[ -e $f ]] && icds+=("$f"); done
  done
  if ((${#icds[@]} == 0)); then
    for f in /usr/local/nvidia/share/vulkan/icd.d/*.json /usr/local/nvidia/icd.d/*.json; do
      [[ -e $f ]] && icds+=("$f")
    done
    if ((${#icds[@]})); then
      VK_DRIVER_FILES=$(
        IFS=:
        echo "${icds[*]}"
      )
      export VK_DRIVER_FILES
      note "Vulkan driver: none in the standard folders; using VK_DRIVER_FILES=$VK_DRIVER_FILES"
    fi
  fi
fi
((${#icds[@]})) || note "Vulkan driver: NO ICD manifest found (install the GPU's Vulkan driver, or set VK_DRIVER_FILES)"

# Each driver library must load: list what it links against and cannot find.
icd_library() { # the manifest's ICD.library_path, resolved to a file when possible
  local json=$1 lib
  lib=$(sed -n 's/.*"library_path"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$json" | head -1)
  [[ -z $lib ]] && return 1
  if [[ $lib == */* ]]; then
    [[ $lib == /* ]] || lib=$(dirname "$json")/$lib
    echo "$lib"
  else
    ldconfig -p 2>/dev/null | awk -v l="$lib" '$1 == l { print $NF; exit }' | grep . || echo "$lib"
  fi
}
icd_missing() { ldd "$1" 2>/dev/null | awk '/not found/ { print $1 }' | sort -u | tr '\n' ' '; }
for icd in "${icds[@]}"; do
  lib=$(icd_library "$icd") || continue
  # NVIDIA's ICD dlopen()s libglvnd's libEGL.so.1 (ldd cannot see that): without it
  # vkCreateInstance fails with VK_ERROR_INCOMPATIBLE_DRIVER.
  if [[ $lib == *nvidia* ]] && ! have_lib libEGL.so.1; then
    if [[ -e $runtime/libEGL.so.1 && -e $runtime/libGLdispatch.so.0 ]]; then
      [[ :${LD_LIBRARY_PATH:-}: == *:$runtime:* ]] || use_carried
      note "Vulkan driver $(basename "$icd"): NVIDIA's driver loads libEGL.so.1 (libglvnd), not on this machine: using the carried copy"
      # Loaded with dlopen(), its static-TLS users (libnvidia-tls) need more surplus than glibc's
      # default once several instances came and went.
      export GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.rtld.optional_static_tls=16384}
    else
      note "Vulkan driver $(basename "$icd"): NVIDIA's driver needs libEGL.so.1 and libGLdispatch.so.0 (libegl1, libglvnd0): MISSING"
    fi
  fi
  if [[ ! -e $lib ]]; then
    note "Vulkan driver $icd: its library $lib is not installed"
    continue
  fi
  missing=$(icd_missing "$lib")
  if [[ -n $missing ]]; then
    carried_all=1
    for m in $missing; do [[ -e $runtime/$m ]] || carried_all=0; done
    if ((carried_all)); then
      [[ :${LD_LIBRARY_PATH:-}: == *:$runtime:* ]] || use_carried
      note "Vulkan driver $(basename "$icd"): $lib needs ${missing% } (not on this machine): using the carried copy"
    else
      note "Vulkan driver $(basename "$icd"): $lib CANNOT LOAD: missing ${missing% } (for libGLdispatch.so.0: libglvnd0)"
    fi
  fi
done

# --- validation layer
validation="system"
layer_found=0
for d in ${VK_LAYER_PATH:+${VK_LAYER_PATH//:/ }} /usr/share/vulkan/explicit_layer.d /etc/vulkan/explicit_layer.d /usr/local/share/vulkan/explicit_layer.d; do
  [[ -e $d/VkLayer_khronos_validation.json ]] && layer_found=1
done
if ((!layer_found)); then
  if [[ -e $runtime/layers/VkLayer_khronos_validation.json ]]; then
    export VK_LAYER_PATH=$runtime/layers${VK_LAYER_PATH:+:$VK_LAYER_PATH}
    validation="carried"
    note "validation layer: not on this machine; using the carried VK_LAYER_KHRONOS_validation"
  else
    validation="missing"
    note "validation layer: MISSING: the Vulkan tests run WITHOUT validation"
  fi
fi
# A carried layer may still fail to load (e.g. an older libstdc++); the tests then say so.
export SYNCBRIDGE_VK_VALIDATION=${SYNCBRIDGE_VK_VALIDATION:-$([[ $validation == missing ]] && echo optional || echo require)}
[[ -n $device ]] && export SYNCBRIDGE_VK_DEVICE=$device

{
  echo "date: $(date -Is)"
  echo "host: $(hostname 2>/dev/null)"
  echo "kernel: $(uname -a)"
  echo "build: $build"
  echo "loader: $loader  validation: $validation (SYNCBRIDGE_VK_VALIDATION=$SYNCBRIDGE_VK_VALIDATION)"
  echo "icds: ${icds[*]:-none}"
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
  echo "VK_LAYER_PATH=${VK_LAYER_PATH:-}"
  echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
  echo "GLIBC_TUNABLES=${GLIBC_TUNABLES:-}"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'
  for n in "${notes[@]}"; do echo "note: $n"; done
} >"$out/env.txt"

ran=0
missing_programs=()
for p in "$probe" "$sample" "$tests" "$stress"; do [[ -x $p ]] || missing_programs+=("${p#$build/}"); done
((${#missing_programs[@]})) && note "not in this build folder: ${missing_programs[*]}"

# --- 1. probe
if [[ -x $probe ]]; then
  "$probe" --json >"$out/probe.json" 2>"$out/probe.stderr"
  echo "$?" >"$out/probe.rc"
  "$probe" >"$out/probe.txt" 2>>"$out/probe.stderr"
  ran=1
fi

# --- 2. the Vulkan test suite, JUnit XML
gtest_filter=()
((quick)) && gtest_filter=(--gtest_filter='VulkanDeviceTest.*:VulkanBridgeTest.CoreFence*:VulkanCompletionTest.Points*')
if [[ -x $tests ]]; then
  "$tests" --gtest_output="xml:$out/junit-vulkan.xml" "${gtest_filter[@]}" >"$out/tests-vulkan.log" 2>&1
  echo "$?" >"$out/tests-vulkan.rc"
  ran=1
fi
if [[ -x $stress ]] && ((!quick)); then
  "$stress" --gtest_output="xml:$out/junit-vulkan-stress.xml" >"$out/tests-vulkan-stress.log" 2>&1
  echo "$?" >"$out/tests-vulkan-stress.rc"
fi

# --- 3. the sample: timed (no validation), then a short validated run
if [[ -x $sample ]]; then
  sframes=$frames
  ((quick)) && sframes=50
  dev_args=()
  [[ -n $device ]] && dev_args=(--device "$device")
  "$sample" --json --frames "$sframes" "${dev_args[@]}" >"$out/gpu-pipeline.json" 2>"$out/gpu-pipeline.stderr"
  echo "$?" >"$out/gpu-pipeline.rc"
  if [[ $validation != missing ]]; then
    "$sample" --json --validate --frames 100 --rounds 1 "${dev_args[@]}" >"$out/gpu-pipeline-validated.json" \
      2>"$out/gpu-pipeline-validated.stderr"
    echo "$?" >"$out/gpu-pipeline-validated.rc"
  fi
  # auto may pick a kernel backend; the host (fallback) path is always worth a run too.
  if grep -q '"backend": "sw_sync"\|"backend": "syncobj"' "$out/gpu-pipeline.json" 2>/dev/null; then
    "$sample" --json --backend host --frames "$sframes" "${dev_args[@]}" >"$out/gpu-pipeline-host.json" \
      2>"$out/gpu-pipeline-host.stderr"
    echo "$?" >"$out/gpu-pipeline-host.rc"
  fi
  ran=1
fi

for n in "${notes[@]}"; do echo "$n"; done >"$out/notes.txt"
if command -v python3 >/dev/null; then
  python3 "$here/summarize.py" "$out" | tee "$out/summary.txt"
  status=${PIPESTATUS[0]}
else
  # No Python: a plain summary from the return codes.
  status=0
  {
    echo "syncbridge hardware run: $out (python3 missing: short summary)"
    for f in "$out"/*.rc; do
      echo "  $(basename "$f" .rc): exit $(cat "$f")"
      [[ $(cat "$f") == 0 ]] || status=1
    done
  } | tee "$out/summary.txt"
fi
((ran)) || status=2
echo "results: $out"
exit "$status"

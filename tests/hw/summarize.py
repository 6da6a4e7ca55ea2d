#!/usr/bin/env python3
"""One-screen summary of a tests/hw run folder (see run-hw.sh). Exit 0 when every test passed
(skips allowed) and every sample run verified its data, 1 otherwise. Standard library only."""
import json
import os
import sys
import xml.etree.ElementTree as ET


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def junit(path):
    """(passed, failed, skipped, [(name, reason)] skipped, [(name, message)] failed) or None."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    passed = failed = skipped = 0
    skips, fails = [], []
    for case in root.iter("testcase"):
        name = f"{case.get('classname')}.{case.get('name')}"
        f = case.find("failure")
        s = case.find("skipped")
        if f is not None:
            failed += 1
            fails.append((name, (f.get("message") or "").splitlines()[0:1]))
        elif s is not None or case.get("result") == "skipped" or case.get("status") == "notrun":
            skipped += 1
            reason = (s.get("message") if s is not None else "") or ""
            # gtest puts "file:line\nreason" in the message
            reason = reason.strip().splitlines()[-1] if reason.strip() else "(no reason given)"
            skips.append((name, reason))
        else:
            passed += 1
    return passed, failed, skipped, skips, fails


def fmt_stats(s):
    if not s or s.get("n", 0) == 0 or s.get("p50") is None:
        return "n/a"
    return f"p50 {s['p50']:.1f}  p90 {s['p90']:.1f}  p99 {s['p99']:.1f}  max {s['max']:.1f} us"


def main(out):
    ok = True
    lines = [f"syncbridge hardware run — {out}"]
    env = read(os.path.join(out, "env.txt")) or ""
    for line in env.splitlines():
        if line.startswith(("kernel:", "gpu:", "loader:")):
            lines.append("  " + line)

    probe = load_json(os.path.join(out, "probe.json"))
    if probe is None:
        lines.append("probe: did not run or wrote no JSON" + (
            f" ({read(os.path.join(out, 'probe.stderr'))})" if read(os.path.join(out, "probe.stderr")) else ""))
        ok = False
    else:
        k = probe["kernel"]
        lines.append(f"kernel: sw_sync {k['sw_sync']['status']}, sync_file deadline "
                     f"{ {True: 'yes', False: 'no', None: 'unknown'}[k['sync_file_deadline']] }, "
                     f"{len(probe['drm_render_nodes'])} render node(s)"
                     + "".join(f"; {n['path']} {n['driver']} syncobj={n['syncobj']} timeline={n['syncobj_timeline']}"
                               f" eventfd={n['syncobj_eventfd']}" for n in probe["drm_render_nodes"]))
        vk = probe["vulkan"]
        if vk.get("error"):
            lines.append(f"vulkan: {vk['error']}")
        for d in vk["devices"]:
            lines.append(f"device {d['index']}: {d['name']} ({d['driver_id']} {d['driver_info']}, Vulkan {d['api_version']})"
                         + ("" if d["usable"] else f" NOT USABLE: {d['why_not']}"))
            lines.append(f"  caps: {d['caps']}")
            lines.append(f"  OPAQUE_FD is a syncobj: {d['opaque_fd_syncobj_check']}")
            for p in d["paths"]:
                state = "complete" if p["complete"] else f"unavailable ({p['why_not']})"
                lines.append(f"  path {p['input']:<18} CPU->GPU {p['cpu_to_gpu']:<22} GPU->CPU {p['gpu_to_cpu']:<15} {state}")
        if not probe.get("complete_path"):
            lines.append("probe: NO complete CPU->GPU->CPU path")
            ok = False

    for label, xml in (("tests", "junit-vulkan.xml"), ("stress", "junit-vulkan-stress.xml")):
        path = os.path.join(out, xml)
        if not os.path.exists(path):
            if label == "tests":
                lines.append(f"{label}: no JUnit XML (did not run; see tests-vulkan.log)")
                ok = False
            continue
        r = junit(path)
        if r is None:
            lines.append(f"{label}: unreadable {xml}")
            ok = False
            continue
        passed, failed, skipped, skips, fails = r
        lines.append(f"{label}: {passed} passed, {failed} failed, {skipped} skipped")
        for name, msg in fails:
            lines.append(f"  FAIL {name}: {' '.join(msg)}")
        reasons = {}
        for name, reason in skips:
            reasons.setdefault(reason, []).append(name.split(".")[-1])
        for reason, names in reasons.items():
            lines.append(f"  skip x{len(names)}: {reason}")
        if failed:
            ok = False

    for name in ("gpu-pipeline.json", "gpu-pipeline-host.json", "gpu-pipeline-validated.json"):
        path = os.path.join(out, name)
        if not os.path.exists(path):
            continue
        j = load_json(path)
        rc = read(path[:-5] + ".rc")
        title = name[:-5]
        if j is None or "bridge" not in j:
            why = (j or {}).get("unsupported") or read(path[:-5] + ".stderr") or "no output"
            lines.append(f"{title}: FAILED (exit {rc}): {why.splitlines()[-1] if why else ''}")
            ok = False
            continue
        b, base = j["bridge"], j.get("baseline")
        lines.append(f"{title}: backend {j['backend']}, CPU->GPU {j['wait_path']}, GPU->CPU {j['completion_path']}, "
                     f"{'VERIFIED' if j['verified'] else 'FAILED'} ({j['frames']}x{j.get('rounds', 1)} frames"
                     f"{', validation on' if j.get('validation') else ''})")
        if not j["verified"]:
            ok = False
            if b.get("error"):
                lines.append(f"  error: {b['error']}")
        if title != "gpu-pipeline-validated":
            lines.append(f"  bridge   signal->GPU start  {fmt_stats(b['signal_to_gpu_start_us'])}")
            lines.append(f"  bridge   signal->CPU done   {fmt_stats(b['signal_to_cpu_done_us'])}")
            if base:
                lines.append(f"  baseline signal->GPU start  {fmt_stats(base['signal_to_gpu_start_us'])}")
                lines.append(f"  baseline signal->CPU done   {fmt_stats(base['signal_to_cpu_done_us'])}")
                a = j["added_median_us"]
                lines.append(f"  added median: {a['signal_to_gpu_start']} us to GPU start, "
                             f"{a['signal_to_cpu_done']} us to CPU done; throughput "
                             f"{b['throughput_fps']} vs {base['throughput_fps']} frames/s")
        for n in j.get("notes", []):
            lines.append(f"  note: {n}")

    for n in (read(os.path.join(out, "notes.txt")) or "").splitlines():
        lines.append(f"note: {n}")
    lines.append("RESULT: " + ("PASS" if ok else "FAIL"))
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))

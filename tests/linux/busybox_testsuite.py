#!/usr/bin/env python3
"""busybox's own test suite (Debian's busybox source, testsuite/) for a
chosen set of applets, run by the same static busybox on the host's Linux and
on ExOS's Linux personality; prints both pass counts. Every test Linux
passes must pass on ExOS, but for KNOWN_GAPS (each with its reason).

  busybox_testsuite.py --kernel veneer.elf --init linux.elf --busybox /bin/busybox
                       --make-rootfs scripts/make_rootfs.sh --cache DIR

The source comes from deb.debian.org (cached in DIR); without a network the
test is skipped (exit 77)."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request

import exos_guest

APPLETS = ("sed awk sort grep cut tr wc head tail uniq xargs printf expr basename dirname echo cat cp mv "
           "rm mkdir ln find").split()
KNOWN_GAPS = {
    "cp-copies-large-file": "a 5 MiB file copied: more than the RAM file system's 2 MiB arena (ramfs_mb=)",
    "mv-moves-large-file": "a 5 MiB file: more than the RAM file system's 2 MiB arena (ramfs_mb=)",
}
RESULT = re.compile(r"^(PASS|FAIL|SKIPPED|UNTESTED): (.*?)\r?$", re.M)
SKIP = 77


def busybox_version(busybox):
    out = subprocess.run([busybox], capture_output=True, text=True).stdout
    m = re.search(r"BusyBox v(\d+\.\d+\.\d+)", out)
    return m.group(1) if m else None


def fetch_testsuite(version, cache):
    suite = os.path.join(cache, f"busybox-{version}", "testsuite")
    if os.path.isdir(suite):
        return suite
    os.makedirs(cache, exist_ok=True)
    url = f"http://deb.debian.org/debian/pool/main/b/busybox/busybox_{version}.orig.tar.bz2"
    tarball = os.path.join(cache, os.path.basename(url))
    try:
        urllib.request.urlretrieve(url, tarball + ".part")
    except OSError as e:
        print(f"cannot download {url}: {e}; skipped")
        sys.exit(SKIP)
    os.rename(tarball + ".part", tarball)
    with tarfile.open(tarball) as t:
        members = [m for m in t.getmembers() if "/testsuite/" in m.name or m.name.endswith("/testsuite")]
        t.extractall(cache, members)
    # runtest starts each NAME.tests file directly (#!/bin/sh: dash on a
    # Debian host); run them with busybox's sh, as on ExOS.
    runtest = os.path.join(suite, "runtest")
    text = open(runtest).read().replace('\t\t\t"$tsdir/$applet.tests"', '\t\t\tsh "$tsdir/$applet.tests"')
    open(runtest, "w").write(text)
    return suite


def results(text):
    out = {}
    for kind, name in RESULT.findall(text):
        out.setdefault(name, kind)
    return out


def host_run(busybox, suite):
    with tempfile.TemporaryDirectory() as tmp:
        bindir, shdir = os.path.join(tmp, "bin"), os.path.join(tmp, "sh")
        os.makedirs(bindir)
        os.makedirs(shdir)
        shutil.copy(busybox, os.path.join(bindir, "busybox"))
        os.symlink(os.path.abspath(busybox), os.path.join(shdir, "sh"))
        work = os.path.join(tmp, "testsuite")
        shutil.copytree(suite, work, symlinks=True)
        env = {"PATH": f"{shdir}:/usr/bin:/bin", "bindir": bindir, "LC_ALL": "C"}
        out = subprocess.run([busybox, "sh", "runtest"] + APPLETS, cwd=work, env=env, capture_output=True,
                             text=True, timeout=600)
        return out.stdout + out.stderr


def exos_run(args, suite):
    with tempfile.TemporaryDirectory() as tmp:
        extra = os.path.join(tmp, "root")
        shutil.copytree(suite, os.path.join(extra, "testsuite"), symlinks=True)
        os.makedirs(os.path.join(extra, "bbbin"))
        shutil.copy(args.busybox, os.path.join(extra, "bbbin", "busybox"))
        os.makedirs(os.path.join(extra, "tests"))
        script = os.path.join(extra, "tests", "busybox-testsuite.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\ncd /testsuite && bindir=/bbbin sh runtest " + " ".join(APPLETS) +
                    "\necho '=== busybox testsuite done'\n")
        os.chmod(script, 0o755)
        rootfs = os.path.join(tmp, "rootfs.cpio")
        subprocess.run(["bash", args.make_rootfs, args.busybox, rootfs, extra], check=True)
        return exos_guest.boot(args.kernel, args.init, rootfs, "/tests/busybox-testsuite.sh", args.timeout,
                               ["=== busybox testsuite done"])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kernel", required=True)
    p.add_argument("--init", required=True)
    p.add_argument("--busybox", required=True)
    p.add_argument("--make-rootfs", required=True)
    p.add_argument("--cache", required=True)
    p.add_argument("--timeout", type=int, default=400)
    args = p.parse_args()
    version = busybox_version(args.busybox)
    if not version:
        print(f"{args.busybox} does not say its version; skipped")
        return SKIP
    suite = fetch_testsuite(version, args.cache)
    linux = results(host_run(args.busybox, suite))
    log, rc = exos_run(args, suite)
    exos = results(log)
    if rc != 0:
        print(log[-4000:])
        print(f"FAIL: the ExOS run failed (run_guest.py exit {rc})")
        return 1
    count = lambda r, k: sum(1 for v in r.values() if v == k)
    print(f"busybox {version} test suite, applets: {' '.join(APPLETS)}")
    print(f"Linux: {count(linux, 'PASS')} passed, {count(linux, 'FAIL')} failed, {count(linux, 'SKIPPED')} skipped")
    print(f"ExOS:  {count(exos, 'PASS')} passed, {count(exos, 'FAIL')} failed, {count(exos, 'SKIPPED')} skipped")
    missed = sorted(n for n, k in linux.items() if k == "PASS" and exos.get(n) != "PASS")
    bad = [n for n in missed if n not in KNOWN_GAPS]
    for n in missed:
        why = KNOWN_GAPS.get(n)
        print(f"  {'known gap' if why else 'FAIL'}: {n}: passes on Linux, {exos.get(n, 'not run')} on ExOS"
              + (f" ({why})" if why else ""))
    print(f"{len(missed) - len(bad)} known gaps, {len(bad)} unexpected failures")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

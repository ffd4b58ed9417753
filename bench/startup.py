#!/usr/bin/python3
# libphonebridge bench — a program's start-up: CPU time (user + sys) of a run
# that does nothing but start and print the version, and the number of shared
# libraries the dynamic loader maps for it. Prints "name: value unit" lines
# like the C benches.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: bench/startup.py PROGRAM [ARG ...]     (default args: --version)
#   e.g. bench/startup.py build/examples/pb-sms --version
#        bench/startup.py build/examples/pb-bridged/pb-bridged --version
# Runs the program 200 times after 10 warm-up runs; quotes the median.
import os
import resource
import statistics
import subprocess
import sys

prog = sys.argv[1]
args = sys.argv[2:] or ["--version"]
name = os.path.basename(prog)


def cpu_of_one():
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([prog] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


for _ in range(10):
    cpu_of_one()
runs = sorted(cpu_of_one() for _ in range(200))
# the loader's own list: every object it maps (without the vDSO, which is not a file)
env = dict(os.environ, LD_TRACE_LOADED_OBJECTS="1")
out = subprocess.run([prog] + args, env=env, capture_output=True, text=True).stdout
libs = [line for line in out.splitlines() if "=>" in line or line.strip().startswith("/")]
libs = [line for line in libs if "vdso" not in line and "ld-linux" not in line]
print(f"startup.{name}.cpu_median: {statistics.median(runs) * 1000:.2f} ms")
print(f"startup.{name}.cpu_p90: {runs[int(len(runs) * 0.9)] * 1000:.2f} ms")
print(f"startup.{name}.libraries: {len(libs)} libraries")

#!/usr/bin/env python3
"""Runs the test binaries of a `cargo test --no-run --message-format=json` build side by side (scripts/cargo-test.sh).

Each binary runs in its package's directory, as cargo runs it. The longest go first (their wall time of the last
passing run on this machine, else the defaults' file; a binary in neither counts as the longest). A binary starts
when the cores the running ones use, each its CPU time over its wall time when last measured (a full core when
never measured or from half a core up), leave room for its own within --cores (default: half the cores, so on two
cores a binary that keeps a core busy runs alone: the proofs of a devnet's deadline, made beside it, come too
late); one always runs when none is running, and --cores 0 runs them one at a time. Each binary's output is printed
whole when it ends, with its wall and CPU time (the binary's and the processes it waited for). Exits 1 naming the
binaries that failed, after all have run.
"""

import argparse
import json
import os
import sys
import time


def test_binaries(build_messages):
    """(name, package directory, executable) of every test binary cargo built, in cargo's order."""
    seen, binaries = set(), []
    for line in open(build_messages):
        try:
            message = json.loads(line)
        except ValueError:
            continue
        executable = message.get("executable")
        if message.get("reason") != "compiler-artifact" or not message.get("profile", {}).get("test"):
            continue
        if not executable or executable in seen:
            continue
        seen.add(executable)
        target, directory = message["target"], os.path.dirname(message["manifest_path"])
        kind, package = target["kind"][0], os.path.basename(directory)
        if kind == "lib":
            name = f"{package}/unittests lib"
        elif kind == "bin":
            name = f"{package}/unittests bin {target['name']}"
        else:
            name = f"{package}/{target['name']}"
        binaries.append((name, directory, executable))
    return binaries


def read_times(*paths):
    """name -> (wall seconds, CPU seconds) from tab-separated files (later files win; # starts a comment)."""
    times = {}
    for path in paths:
        if not os.path.exists(path):
            continue
        for line in open(path):
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3 and not parts[0].startswith("#"):
                times[parts[0]] = (float(parts[1]), float(parts[2]))
    return times


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-messages", required=True)
    parser.add_argument("--logs", required=True)
    parser.add_argument("--times", required=True)
    parser.add_argument("--default-times", required=True)
    parser.add_argument("--cores", default="")
    parser.add_argument("test_args", nargs="*")
    args = parser.parse_args()
    cores = float(args.cores) if args.cores else 0.5 * os.cpu_count()

    known = read_times(args.default_times, args.times)
    queue = sorted(test_binaries(args.build_messages), key=lambda b: -known.get(b[0], (float("inf"), 0))[0])

    def demand(name):
        """The cores `name` keeps busy: its CPU over its wall time, a whole core from half of one (a share measured
        beside other binaries is lower than alone) and when never measured."""
        if name not in known:
            return 1.0
        wall, cpu = known[name]
        share = cpu / max(wall, 1.0)
        return 1.0 if share >= 0.5 else share

    running, measured, failed, count, started = {}, {}, [], len(queue), 0
    while queue or running:
        in_use = sum(demand(name) for name, _, _ in running.values())
        for i, (name, directory, executable) in enumerate(queue):
            if not running or (cores > 0 and in_use + demand(name) <= cores):
                started += 1
                log = open(os.path.join(args.logs, f"{started}.log"), "w+")
                env = dict(os.environ, CARGO_MANIFEST_DIR=directory)
                pid = spawn(executable, directory, args.test_args, env, log)
                running[pid] = (name, log, time.monotonic())
                del queue[i]
                break
        else:
            # Nothing more fits: wait for one to end.
            pid, status, usage = os.wait4(-1, 0)
            if pid not in running:
                continue
            name, log, began = running.pop(pid)
            wall, cpu = time.monotonic() - began, usage.ru_utime + usage.ru_stime
            code = os.waitstatus_to_exitcode(status)
            log.seek(0)
            print(f"---- {name}", flush=True)
            sys.stdout.write(log.read())
            log.close()
            verdict = "ok" if code == 0 else f"FAILED (exit {code})"
            print(f"---- {name}: {verdict} in {wall:.0f} s (CPU {cpu:.0f} s)", flush=True)
            if code == 0:
                measured[name] = (wall, cpu)
            else:
                failed.append(name)

    if measured and not args.test_args:
        times = read_times(args.times)
        times.update(measured)
        with open(args.times + ".new", "w") as out:
            for name, (wall, cpu) in sorted(times.items()):
                out.write(f"{name}\t{wall:.0f}\t{cpu:.0f}\n")
        os.replace(args.times + ".new", args.times)
    if failed:
        print(f"test binaries failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"all {count} test binaries passed")
    return 0


def spawn(executable, directory, test_args, env, log):
    """Starts `executable` in `directory` with its output to `log`; returns its pid."""
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(directory)
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            os.execve(executable, [executable, *test_args], env)
        finally:
            os._exit(127)
    return pid


if __name__ == "__main__":
    sys.exit(main())

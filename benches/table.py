#!/usr/bin/env python3
"""Prints the README "Performance" table from the last `cargo bench --bench hot_path` run.

Reads criterion's estimates under target/criterion and reports medians, with every figure of a
signature algorithm as a ratio to the floor measured in the same run (the raw aws-lc-rs
verify), and the cache-hit stack against the no-layer baseline.

    cargo bench --bench hot_path && python3 benches/table.py
"""
import json
import os
import platform
import sys

ROOT = os.environ.get("CRITERION_DIR", os.path.join("target", "criterion"))
ALGORITHMS = [("es256", "ES256"), ("rs256", "RS256 (2048)"), ("eddsa", "EdDSA")]


def median_ns(group, name):
    path = os.path.join(ROOT, group, name, "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"]
    except FileNotFoundError:
        sys.exit(f"missing {path}: run `cargo bench --bench hot_path` first")


def fmt(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    baseline = median_ns("stack", "no_layer")
    rows = [
        ("floor: aws-lc-rs verify, parsed key", "floor"),
        ("`jsonwebtoken::decode`, prebuilt key", "jsonwebtoken"),
        ("`Validator::validate`, cache off", "validate"),
        ("whole `McpAuth::layer()` stack, cache off", "stack_cache_off"),
        ("whole `McpAuth::layer()` stack, cache hit", "stack_cache_hit"),
    ]
    header = "| median per request | " + " | ".join(label for _, label in ALGORITHMS) + " |"
    print(header)
    print("|---|" + "---|" * len(ALGORITHMS))
    for label, name in rows:
        cells = []
        for group, _ in ALGORITHMS:
            floor = median_ns(group, "floor")
            value = median_ns(group, name)
            if name == "floor":
                cells.append(f"{fmt(value)} (1.00×)")
            elif name == "stack_cache_hit":
                cells.append(f"{fmt(value)} (+{fmt(value - baseline)} over no layer)")
            else:
                cells.append(f"{fmt(value)} ({value / floor:.2f}×)")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
    print("| median per request | time |")
    print("|---|---|")
    print(f"| no layer: the same request and no-op service (baseline) | {fmt(baseline)} |")
    bearer = median_ns("stack", "bearer_only_cache_hit")
    print(f"| bearer stage alone, cache hit | {fmt(bearer)} (+{fmt(bearer - baseline)}) |")
    print(f"| bearer header parsing (~700-byte header) | {fmt(median_ns('micro', 'bearer_extract'))} |")
    print(f"| challenge building | {fmt(median_ns('micro', 'challenge_build'))} |")
    print()
    print(f"Machine: {os.cpu_count()} cores, {cpu_model()}; one run of "
          "`cargo bench --bench hot_path`, criterion medians; ratios are to the floor of the "
          "same algorithm in the same run.")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Turn scripts/bench's results file ("KEY VALUE" lines) into the Markdown report.

Ratios are "how many times faster tf-pin is" (baseline time ÷ tf-pin time); the ceiling
fraction is tf-pin's references/s ÷ the registry's HEAD requests/s from `ab`. The targets
are the ones in the performance issue; each row says met or missed and by how much.
"""

import statistics
import sys

TARGET_SKOPEO = 15.0
TARGET_CURL = 1.5
TARGET_CEILING = 0.70
TARGET_EXTERNAL_MS = 10.0
TARGET_RSS_MB = 30.0


def load(path):
    results = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition(" ")
            results[key] = value
    return results


def num(x, digits=0):
    return f"{x:,.{digits}f}"


def secs(us):
    s = us / 1e6
    return f"{s:.3f} s" if s < 10 else f"{s:.1f} s"


def main():
    r = load(sys.argv[1])
    out = []
    p = out.append
    runs = int(r["meta.runs"])
    jobs = r["meta.jobs"]

    p(f"### tf-pin benchmark — {r['meta.date']}")
    p("")
    p(f"Machine: {r['meta.nproc']} × {r['meta.cpu']}, {r['meta.mem']}, {r['meta.kernel']}; "
      f"load average {r['meta.load']} at start, {r.get('meta.load_end', '?')} at the end. "
      f"{r['meta.tfpin']} (git {r['meta.git']}), "
      f"docker-registry {r['meta.registry']}, skopeo {r['meta.skopeo']}, curl {r['meta.curl']}.")
    p("")
    p(f"Loopback registries on 127.0.0.1 (plain HTTP; token auth with a local token server), "
      f"filesystem storage. Best of {runs} run{'s' if runs > 1 else ''} unless noted (tf-pin, curl and "
      f"`ab` interleaved, one of each per round); "
      f"tf-pin and `ab` at concurrency {jobs}. Produced by `make bench` (scripts/bench)"
      f"{' in --quick mode' if r.get('meta.quick') == '1' else ''} in {r.get('meta.total_s', '?')} s, "
      f"{r.get('meta.push_s', '?')} s of which pushing the images.")
    p("")

    # Throughput table.
    kinds = []
    for key in r:
        if key.endswith(".tfpin_us") and key.count(".") == 2:
            kind, n, _ = key.split(".")
            kinds.append((kind, int(n)))
    p("| Registry | N | tf-pin resolve | skopeo loop | curl, 1 process | ceiling (ab) | ab, burst of N | "
      "× skopeo | × curl | of ceiling | tf-pin CPU, RSS | Requests seen (bound) |")
    p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    rows = {}
    for kind, n in kinds:
        k = f"{kind}.{n}"
        tf, sk, cu = (float(r[f"{k}.{x}_us"]) for x in ("tfpin", "skopeo", "curl"))
        ceiling = float(r[f"{k}.ceiling_rps"])
        burst = float(r[f"{k}.burst_rps"])
        user, system, rss_kib = r[f"{k}.tfpin_cpu_rss"].split(",")
        cpu_ms = (float(user) + float(system)) * 1000
        tf_rps = n / (tf / 1e6)
        total, head, get, ping, unauth, other, distinct = (int(x) for x in r[f"{k}.requests"].split(","))
        tokens = int(r[f"{k}.token_requests"])
        bound = n + tokens + 1
        rows[(kind, n)] = dict(tf=tf, sk=sk, cu=cu, tf_rps=tf_rps, ceiling=ceiling, total=total,
                               head=head, get=get, ping=ping, unauth=unauth, other=other,
                               distinct=distinct, tokens=tokens, bound=bound)
        sk_runs = int(r[f"{k}.skopeo_runs"])
        sk_note = "" if sk_runs == runs else f" ({sk_runs} run{'s' if sk_runs > 1 else ''})"
        cu_runs = int(r.get(f"{k}.curl_runs", runs))
        cu_note = "" if cu_runs == runs else f" ({cu_runs} run{'s' if cu_runs > 1 else ''})"
        label = "plain HTTP" if kind == "plain" else "token auth, N repositories"
        curl_label = "" if kind == "plain" else " ²"
        req = (f"{num(total + tokens)} = {num(head)} HEAD + {num(get)} GET manifest + {num(ping)} ping"
               + (f" + {num(other)} other" if other else "")
               + (f" + {num(tokens)} token" if kind == "auth" else "")
               + f" (≤ {num(bound)})")
        p(f"| {label} | {num(n)} | {secs(tf)} · {num(tf_rps)}/s | {secs(sk)} · {num(n / (sk / 1e6))}/s{sk_note} | "
          f"{secs(cu)} · {num(n / (cu / 1e6))}/s{curl_label}{cu_note} | {num(ceiling)}/s | "
          f"{secs(n / burst * 1e6)} · {num(burst)}/s | "
          f"{sk / tf:.1f}× | {cu / tf:.2f}× | {tf_rps / ceiling:.0%} | "
          f"{cpu_ms:.0f} ms, {int(rss_kib) * 1024 / 1e6:.1f} MB | {req} |")
    p("")
    p("“× skopeo” and “× curl”: how many times faster tf-pin resolves all N than that baseline. "
      "“of ceiling”: tf-pin's references/s ÷ the registry's own HEAD/s on one manifest "
      f"(`ab -k -c {jobs} -i -n {r.get('meta.ab_requests', '?')}`), measured in the same rounds as tf-pin "
      "and curl (token auth: with a token for that one repository); “ab, burst of N”: the same tool sending exactly N requests (cold connections, like "
      "one tf-pin run). tf-pin CPU, RSS: user + system time and peak RSS of one run. "
      "Requests: what the registry's access log and the token server saw during one `tf-pin resolve`; the bound is N HEADs + 1 ping + token requests. "
      "² one curl process fetching a token per repository, then one curl process with the N HEADs.")
    p("")

    # Other measurements.
    ext = [int(x) for x in r["external.tfpin_us"].split(",")]
    cur = [int(x) for x in r["external.curl_us"].split(",")]
    ext_med, cur_med = statistics.median(ext) / 1000, statistics.median(cur) / 1000
    ext_min, cur_min = min(ext) / 1000, min(cur) / 1000
    rss_mb = int(r["rss.kib"]) * 1024 / 1e6
    auth_rss_mb = int(r["rss.auth_kib"]) * 1024 / 1e6
    p("| Measurement | tf-pin | Baseline | Result |")
    p("|---|---:|---:|---|")
    p(f"| `tf-pin external`, 1 reference (median / min of {len(ext)}) | {ext_med:.1f} / {ext_min:.1f} ms | "
      f"`curl -I`: {cur_med:.1f} / {cur_min:.1f} ms | {ext_med - cur_med:+.1f} ms (median) |")
    p(f"| Peak RSS, `tf-pin resolve`, N = {num(int(r['rss.n']))} (max of {runs}) | {rss_mb:.1f} MB | | |")
    p(f"| Peak RSS, `tf-pin resolve`, token auth, N = {num(int(r['rss.auth_n']))} | {auth_rss_mb:.1f} MB | | |")
    if "rewrite.us" in r:
        files, size, us = int(r["rewrite.files"]), int(r["rewrite.bytes"]), float(r["rewrite.us"])
        mbps = size / 1e6 / (us / 1e6)
        exit_note = "" if r.get("rewrite.exit") == "0" else f", exit {r.get('rewrite.exit')}"
        exit_note += f"; “{r['rewrite.summary']}”" if r.get("rewrite.summary") else ""
        p(f"| `tf-pin rewrite --check --offline`, {num(files)} files, {size / 1e6:.1f} MB | {secs(us)} | | "
          f"{mbps:.1f} MB/s, {num(files / (us / 1e6))} files/s, peak RSS {int(r['rewrite.rss_kib']) * 1024 / 1e6:.1f} MB{exit_note} |")
    elif "rewrite.error" in r:
        p(f"| `tf-pin rewrite --check --offline` | failed | | {r['rewrite.error']} |")
    else:
        p(f"| `tf-pin rewrite --check --offline` | skipped | | {r.get('rewrite.skipped', '')} |")
    p("")

    # Targets.
    p("| Target | Goal | Measured | |")
    p("|---|---|---|---|")

    def verdict(ok, miss):
        return "met" if ok else f"**missed** ({miss})"

    for kind in ("plain", "auth"):
        if (kind, 100) in rows:
            x = rows[(kind, 100)]
            ratio = x["sk"] / x["tf"]
            p(f"| vs skopeo loop, N = 100, {kind} | ≥ {TARGET_SKOPEO:.0f}× | {ratio:.1f}× | "
              f"{verdict(ratio >= TARGET_SKOPEO, f'{TARGET_SKOPEO / ratio:.2f}× short')} |")
    for (kind, n), x in sorted(rows.items()):
        if kind != "plain":
            continue
        ratio = x["cu"] / x["tf"]
        # No client can beat the ceiling: this run's best possible ratio is ceiling ÷ curl's rate.
        bound = x["ceiling"] / (n / (x["cu"] / 1e6))
        p(f"| vs one-process sequential curl, N = {num(n)} | ≥ {TARGET_CURL}× | {ratio:.2f}× "
          f"(ceiling ÷ curl = {bound:.2f}×) | "
          f"{verdict(ratio >= TARGET_CURL, f'{TARGET_CURL / ratio:.2f}× short')} |")
    for kind in ("plain", "auth"):
        ns = sorted(n for k, n in rows if k == kind)
        if not ns:
            continue
        n = 1000 if 1000 in ns else ns[-1]
        x = rows[(kind, n)]
        frac = x["tf_rps"] / x["ceiling"]
        p(f"| share of the registry's HEAD ceiling, N = {num(n)}, {kind} | ≥ {TARGET_CEILING:.0%} | {frac:.0%} "
          f"({num(x['tf_rps'])} of {num(x['ceiling'])}/s) | "
          f"{verdict(frac >= TARGET_CEILING, f'{(TARGET_CEILING - frac) * 100:.0f} points short')} |")
    gap = ext_med - cur_med
    p(f"| `external` vs one `curl -I` (medians) | ≤ +{TARGET_EXTERNAL_MS:.0f} ms | {gap:+.1f} ms | "
      f"{verdict(gap <= TARGET_EXTERNAL_MS, f'{gap - TARGET_EXTERNAL_MS:.1f} ms over')} |")
    p(f"| peak RSS, N = {num(int(r['rss.n']))} | ≤ {TARGET_RSS_MB:.0f} MB | {rss_mb:.1f} MB | "
      f"{verdict(rss_mb <= TARGET_RSS_MB, f'{rss_mb - TARGET_RSS_MB:.1f} MB over')} |")
    for (kind, n), x in sorted(rows.items(), key=lambda item: (item[0][0] != "plain", item[0][1])):
        seen = x["total"] + x["tokens"]
        clean = x["head"] == n and x["distinct"] == n and x["get"] == 0
        ok = seen <= x["bound"] and clean
        why = []
        if seen > x["bound"]:
            why.append(f"{seen - x['bound']} over")
        if x["head"] != x["distinct"]:
            why.append(f"{x['head'] - x['distinct']} repeated HEADs")
        if x["get"]:
            why.append(f"{x['get']} manifest GETs")
        if x["head"] != n:
            why.append(f"{x['head']} HEADs for {n} references")
        p(f"| requests, {kind}, N = {num(n)} | ≤ {num(x['bound'])}, no repeats, no GETs | {num(seen)} | "
          f"{verdict(ok, ', '.join(why))} |")
    print("\n".join(out))


if __name__ == "__main__":
    main()

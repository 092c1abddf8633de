#!/usr/bin/env python3
# Copy of ../shared/tools/autobahn/summary.py, used by scripts/autobahn.sh when that folder is absent.
"""Summarize an Autobahn|Testsuite report (index.json) per case group 1..13.

usage: summary.py [REPORTS_DIR_OR_INDEX_JSON] [--agent NAME] [--strict]
       (default ./autobahn-reports; AUTOBAHN_STRICT=1 in the environment = --strict)

Default gate: a case FAILED if its behavior is FAILED (or anything unknown), or if its
behaviorClose is FAILED or UNCLEAN (both shown red, "Fail"/"Unclean", in the suite's own HTML
report). Passed = OK + NON-STRICT + INFORMATIONAL.
Strict gate: only OK and INFORMATIONAL pass, for behavior and for behaviorClose (so NON-STRICT,
WRONG CODE and FAILED BY CLIENT count as FAILED too).
UNIMPLEMENTED (e.g. 12.*/13.* against a server without permessage-deflate) is counted
separately, neither passed nor failed, under both gates.
The last line is `autobahn: N passed, M failed`; exit status 1 if M > 0, 2 if no cases.
"""
import argparse
import json
import os
import sys
from collections import Counter, defaultdict

COLS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]


def key(case_id):
    return tuple(int(x) if x.isdigit() else x for x in case_id.split("."))


def verdict(res, strict):
    b, bc = res.get("behavior"), res.get("behaviorClose")
    good = {"OK", "INFORMATIONAL"} if strict else {"OK", "NON-STRICT", "INFORMATIONAL"}
    bad_close = bc not in ("OK", "INFORMATIONAL") if strict else bc in ("FAILED", "UNCLEAN")
    if bad_close or b not in good | {"UNIMPLEMENTED"}:
        return "FAILED"
    return b


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", nargs="?", default="autobahn-reports")
    ap.add_argument("--agent", help="only this agent (default: every agent in the report)")
    ap.add_argument("--strict", action="store_true",
                    default=os.environ.get("AUTOBAHN_STRICT", "") not in ("", "0", "no", "false"))
    a = ap.parse_args()
    path = os.path.join(a.report, "index.json") if os.path.isdir(a.report) else a.report
    try:
        with open(path) as f:
            index = json.load(f)
    except (OSError, ValueError) as e:
        print(f"autobahn: cannot read {path}: {e}", file=sys.stderr)
        print("autobahn: 0 passed, 0 failed")
        return 2
    agents = [a.agent] if a.agent else sorted(index)
    total, failed, odd_close = Counter(), [], Counter()
    for agent in agents:
        groups = defaultdict(Counter)
        for cid, res in index.get(agent, {}).items():
            v = verdict(res, a.strict)
            groups[int(cid.split(".")[0])][v] += 1
            if v == "FAILED":
                failed.append((agent, cid, res.get("behavior"), res.get("behaviorClose")))
            elif res.get("behaviorClose") not in ("OK", "INFORMATIONAL"):
                odd_close[res.get("behaviorClose")] += 1
        print(f"agent: {agent}")
        print(f"{'group':>5} {'cases':>5} " + " ".join(f"{c:>13}" for c in COLS))
        for g in sorted(groups):
            c = groups[g]
            print(f"{g:>5} {sum(c.values()):>5} " + " ".join(f"{c[k]:>13}" for k in COLS))
            total.update(c)
        print()
    n = total["OK"] + total["NON-STRICT"] + total["INFORMATIONAL"]
    print(f"{'total':>5} {sum(total.values()):>5} " + " ".join(f"{total[k]:>13}" for k in COLS))
    for agent, cid, b, bc in sorted(failed, key=lambda x: (x[0], key(x[1]))):
        print(f"FAILED {cid} ({agent}): behavior={b} behaviorClose={bc}")
    if odd_close:
        print("passed, but closing behavior was: " +
              ", ".join(f"{k} x{v}" for k, v in sorted(odd_close.items())))
    if total["UNIMPLEMENTED"]:
        print(f"unimplemented (not counted as passed): {total['UNIMPLEMENTED']}")
    if not total:
        print(f"autobahn: no case results in {path}", file=sys.stderr)
    if a.strict:
        print("strict gate: only OK and INFORMATIONAL pass, for behavior and behaviorClose")
    print(f"autobahn: {n} passed, {len(failed)} failed")
    if not total:
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

# Convert tpm2_eventlog 5.4 YAML to the JSON upstream keylime's policy sees (clean-up as
# tpm2_tools_elparser.py for tools 5.4 + vendor_db reshaping from tpm_bootlog_enrich.py).
import json, sys, yaml, hashlib
SIZES = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}
def unescape(d):
    esc = [("\0", "\\0"), ("\a", "\\a"), ("\b", "\\b"), ("\t", "\\t"), ("\v", "\\v"), ("\f", "\\f"), ("\r", "\\r"), ("\x1b", "\\e"), ("'", "\\'"), ("\\", "\\\\")]
    if isinstance(d, str) and d:
        if d.startswith('"') and d.endswith('"'):
            d = d[1:-1]
        for o, e in esc:
            d = d.replace(e, o)
        if d.endswith("\0"):
            d = d[:-1]
    elif isinstance(d, dict):
        for k, v in d.items():
            d[k] = unescape(v)
    elif isinstance(d, list):
        for i, v in enumerate(d):
            d[i] = unescape(v)
    return d
def guid(b):
    import uuid
    return str(uuid.UUID(bytes_le=bytes(b)))
def vendor_db(d):
    if d.get("UnicodeName") != "vendor_db" or not isinstance(d.get("VariableData"), str):
        return
    b = bytes.fromhex(d["VariableData"]); sigs = []; off = 0
    while off < len(b):
        if off + 16 >= len(b): break
        g = guid(b[off:off+16]); cs = None
        for i in range(off + 16, min(off + 16 + 100, len(b) - 2)):
            if b[i] == 0x30 and b[i+1] == 0x82: cs = i; break
        if cs is None or cs + 4 > len(b): break
        ce = cs + 4 + ((b[cs+2] << 8) | b[cs+3])
        if ce > len(b): break
        sigs.append({"SignatureOwner": g, "SignatureData": b[off+16:ce].hex()}); off = ce
    if sigs: d["VariableData"] = sigs
def big(x):
    if isinstance(x, bool): return x
    if isinstance(x, int) and abs(x) > 2**53 - 1: return "0x%x" % x
    if isinstance(x, dict): return {k: big(v) for k, v in x.items()}
    if isinstance(x, list): return [big(v) for v in x]
    return x
log = yaml.load(open(sys.argv[1]), Loader=yaml.CSafeLoader)
for ev in log["events"]:
    if ev.get("EventType") == "EV_EFI_VARIABLE_AUTHORITY" and "Event" in ev: vendor_db(ev["Event"])
pcrs = {alg: {str(k): "%0*x" % (SIZES[alg] * 2, v) for k, v in cells.items()} for alg, cells in log["pcrs"].items()}
log["pcrs"] = {}
log = unescape(log)
log["events"] = big(log["events"])
log["pcrs"] = pcrs
agg = {}
for alg in pcrs:
    agg[alg] = []
    for n in (8, 10):
        try:
            h = hashlib.new(alg)
            for i in range(n): h.update(bytes.fromhex(pcrs[alg][str(i)]))
            agg[alg].append(h.hexdigest())
        except KeyError: pass
log["boot_aggregates"] = agg
json.dump(log, sys.stdout, indent=1, sort_keys=False, ensure_ascii=False)

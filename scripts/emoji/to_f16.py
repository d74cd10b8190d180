"""Rewrites a float32 safetensors model with float16 tensors (half the size), keeping the
metadata (clip.c's "config"); clip.c converts them back to float32 when it loads the model.
Written atomically (temporary file, fsync, rename).

  /usr/bin/python3 scripts/emoji/to_f16.py IN.safetensors OUT.safetensors
"""
import json, os, struct, sys
import numpy as np


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1].strip())
    src, dst = sys.argv[1:]
    with open(src, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        body = f.read()
    meta = header.pop("__metadata__", None)
    out, blobs, off = {}, [], 0
    for name, t in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        a, b = t["data_offsets"]
        raw = body[a:b]
        if t["dtype"] == "F32":
            x = np.frombuffer(raw, dtype="<f4")
            if np.abs(x).max(initial=0) > 65504:
                sys.exit(f"to_f16: {name} does not fit float16")
            raw, dtype = x.astype("<f2").tobytes(), "F16"
        else:
            dtype = t["dtype"]
        out[name] = {"dtype": dtype, "shape": t["shape"], "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if meta is not None:
        out["__metadata__"] = meta
    h = json.dumps(out, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = dst + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, dst)


if __name__ == "__main__":
    main()

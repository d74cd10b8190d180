"""The PyTorch twin of scripts/emoji/train.sh: the same CLIP architecture (written after the
design of OpenAI's model.py: pre-LN residual blocks, QuickGELU, nn.MultiheadAttention, class
token, OpenAI's initialisation), the same recipe (AdamW with open_clip's weight-decay rule,
warmup + cosine, logit_scale clamped to [0, ln 100]), the same data (the train split's rows of
captions.tsv, at most one pair per concept in a batch, held-out loss on val.tsv), the same
tokens (made by `build/clip tokenize`, i.e. OpenAI's algorithm) and the same augmentation
(RandomResizedCrop scale 0.9-1.0, ratio 3/4-4/3, PIL bicubic, as torchvision's on PIL images).
Random streams differ from clip.c's (torch/numpy generators), so the runs are twins in recipe,
not in bytes. Saves the weights as safetensors with OpenAI's key names, so `clip` evaluates both
models the same way.

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread OPENBLAS_CORETYPE=SkylakeX \\
  OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/emoji/train_pytorch.py --data DIR --out FILE
"""
import argparse, json, math, os, random, struct, subprocess, sys, time
from collections import OrderedDict
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads, mask=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(width, width * 4)), ("gelu", QuickGELU()),
                                              ("c_proj", nn.Linear(width * 4, width))]))
        self.ln_2 = nn.LayerNorm(width)
        self.mask = mask

    def forward(self, x):
        m = self.mask[: x.shape[0], : x.shape[0]] if self.mask is not None else None
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False, attn_mask=m)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, mask=None):
        super().__init__()
        self.width, self.layers = width, layers
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads, mask) for _ in range(layers)])

    def forward(self, x):
        return self.resblocks(x)


class VisionTransformer(nn.Module):
    def __init__(self, size, patch, width, layers, heads, out):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, patch, patch, bias=False)
        s = width ** -0.5
        self.class_embedding = nn.Parameter(s * torch.randn(width))
        self.positional_embedding = nn.Parameter(s * torch.randn((size // patch) ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(s * torch.randn(width, out))

    def forward(self, x):
        x = self.conv1(x).flatten(2).permute(0, 2, 1)
        x = torch.cat([self.class_embedding.expand(x.shape[0], 1, -1), x], 1) + self.positional_embedding
        x = self.transformer(self.ln_pre(x).permute(1, 0, 2)).permute(1, 0, 2)
        return self.ln_post(x[:, 0]) @ self.proj


class CLIP(nn.Module):
    def __init__(self, embed, size, patch, vw, vl, ctx, vocab, tw, tl):
        super().__init__()
        self.visual = VisionTransformer(size, patch, vw, vl, vw // 64, embed)
        mask = torch.full((ctx, ctx), float("-inf")).triu_(1)
        self.transformer = Transformer(tw, tl, tw // 64, mask)
        self.token_embedding = nn.Embedding(vocab, tw)
        self.positional_embedding = nn.Parameter(torch.empty(ctx, tw))
        self.ln_final = nn.LayerNorm(tw)
        self.text_projection = nn.Parameter(torch.empty(tw, embed))
        self.logit_scale = nn.Parameter(torch.ones([]) * math.log(1 / 0.07))
        # OpenAI's initialize_parameters
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        t = self.transformer
        proj_std, attn_std, fc_std = (t.width ** -0.5) * ((2 * t.layers) ** -0.5), t.width ** -0.5, (2 * t.width) ** -0.5
        for b in t.resblocks:
            nn.init.normal_(b.attn.in_proj_weight, std=attn_std)
            nn.init.normal_(b.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(b.mlp.c_fc.weight, std=fc_std)
            nn.init.normal_(b.mlp.c_proj.weight, std=proj_std)
        nn.init.normal_(self.text_projection, std=t.width ** -0.5)

    def encode_image(self, x):
        return self.visual(x)

    def encode_text(self, tok):
        T = int((tok.argmax(-1)).max()) + 1   # positions after the last end-of-text never reach a pooled row
        tok = tok[:, :T]
        x = self.token_embedding(tok) + self.positional_embedding[:T]
        x = self.ln_final(self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2))
        return x[torch.arange(x.shape[0]), tok.argmax(-1)] @ self.text_projection

    def loss(self, img, tok):
        i = F.normalize(self.encode_image(img), dim=-1)
        t = F.normalize(self.encode_text(tok), dim=-1)
        logits = self.logit_scale.exp() * i @ t.T
        labels = torch.arange(img.shape[0])
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


# ---- data

def read_tsv(path, split=None):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            r = line.rstrip("\n").split("\t")
            if split is None or r[3] == split:
                rows.append(r)
    return rows


def tokenize(clip_bin, texts, ctx):
    out = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"emoji_tok_{os.getpid()}.npy")
    subprocess.run([clip_bin, "tokenize", "--truncate", "--context", str(ctx), "-o", out],
                   input="\n".join(texts) + "\n", text=True, check=True)
    t = np.load(out)
    os.unlink(out)
    assert t.shape[0] == len(texts)
    return torch.from_numpy(t.astype(np.int64))


class Data:
    def __init__(self, root, rows, clip_bin, ctx):
        paths = sorted({r[0] for r in rows})
        index = {p: i for i, p in enumerate(paths)}
        self.images = [Image.open(os.path.join(root, p)).convert("RGB") for p in paths]   # kept in memory
        for im in self.images:
            im.load()
        self.img_of = [index[r[0]] for r in rows]
        self.tokens = tokenize(clip_bin, [r[1] for r in rows], ctx)
        groups = {}
        self.group = [groups.setdefault(r[2], len(groups)) for r in rows] if len(rows[0]) > 2 else None
        self.n = len(rows)

    def pixels(self, i, size, rng=None, aug=None):
        im = self.images[self.img_of[i]]
        if rng is not None:
            x, y, w, h = crop_box(im.width, im.height, rng, scale=(aug.crop_scale, 1.0))
            im = im.crop((x, y, x + w, y + h)).resize((size, size), Image.BICUBIC)
        elif im.size != (size, size):
            raise SystemExit("images must be %d px (the emoji set is)" % size)
        a = np.asarray(im, dtype=np.float32) / 255.0
        if rng is not None:
            a = color_flip(a, rng, aug.color_jitter, aug.hflip)
        a = (a - MEAN) / STD
        return torch.from_numpy(a.transpose(2, 0, 1).copy())


def color_flip(a, rng, s, hflip):
    """torchvision's adjust_brightness, adjust_contrast, adjust_saturation (in that order, each
    clamped to [0,1]; factors in 1 +- s), then a horizontal flip with probability 1/2 (as clip.c)."""
    if s > 0:
        fb, fc, fs = (rng.uniform(1 - s, 1 + s) for _ in range(3))
        grey = lambda x: x[..., 0:1] * 0.299 + x[..., 1:2] * 0.587 + x[..., 2:3] * 0.114
        a = np.clip(a * fb, 0, 1)
        m = grey(a).mean()
        a = np.clip((a - m) * fc + m, 0, 1)
        y = grey(a)
        a = np.clip((a - y) * fs + y, 0, 1)
    if hflip and rng.random() < 0.5:
        a = a[:, ::-1, :]
    return a


def crop_box(w, h, rng, scale=(0.9, 1.0), ratio=(3 / 4, 4 / 3)):
    """torchvision's RandomResizedCrop.get_params."""
    area = w * h
    lr = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        ta = area * rng.uniform(*scale)
        ar = math.exp(rng.uniform(*lr))
        cw, ch = int(round(math.sqrt(ta * ar))), int(round(math.sqrt(ta / ar)))
        if 0 < cw <= w and 0 < ch <= h:
            return rng.randint(0, w - cw), rng.randint(0, h - ch), cw, ch
    return 0, 0, w, h


def epoch_plan(d, seed, epoch, B):
    """A seeded shuffle, then greedy packing with at most one pair per group in a batch (as clip.c)."""
    perm = np.random.default_rng([seed, epoch]).permutation(d.n).tolist()
    batches, wait, nxt = [], [], 0
    while True:
        batch, seen = [], set()
        for s in list(wait):
            if len(batch) < B and d.group[s] not in seen:
                batch.append(s); seen.add(d.group[s]); wait.remove(s)
        while len(batch) < B and nxt < d.n:
            s = perm[nxt]; nxt += 1
            if d.group[s] in seen:
                wait.append(s)
            else:
                batch.append(s); seen.add(d.group[s])
        if len(batch) < B:
            return batches
        batches.append(batch)


def save_safetensors(model, path):
    tensors = {k: v.detach().float().contiguous().numpy() for k, v in model.state_dict().items()}
    header, off = {}, 0
    for k, v in tensors.items():
        header[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [off, off + v.nbytes]}
        off += v.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for v in tensors.values():
            f.write(v.tobytes())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="datasets/emoji")
    ap.add_argument("--out", default="build/emoji/pytorch.safetensors")
    ap.add_argument("--clip", default="build/clip")
    ap.add_argument("--steps", type=int, default=180)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=30)
    ap.add_argument("--log", default=None)
    ap.add_argument("--crop-scale", type=float, default=0.9)
    ap.add_argument("--color-jitter", type=float, default=0.0)
    ap.add_argument("--hflip", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OPENBLAS_NUM_THREADS", "2")))
    torch.manual_seed(a.seed)
    S, CTX = 32, 77
    t0 = time.perf_counter()
    train = Data(a.data, read_tsv(os.path.join(a.data, "captions.tsv"), "train"), a.clip, CTX)
    val = Data(a.data, read_tsv(os.path.join(a.data, "val.tsv")), a.clip, CTX)
    m = CLIP(embed=128, size=S, patch=4, vw=192, vl=4, ctx=CTX, vocab=49408, tw=128, tl=4)
    nodecay = lambda n, p: p.ndim < 2 or any(k in n for k in ("bn", "ln", "bias", "logit_scale"))
    params = list(m.named_parameters())
    opt = torch.optim.AdamW([{"params": [p for n, p in params if not nodecay(n, p)], "weight_decay": a.wd},
                             {"params": [p for n, p in params if nodecay(n, p)], "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.98), eps=1e-6)
    log = open(a.log, "w") if a.log else None
    print(f"pytorch {torch.__version__}: {sum(p.numel() for _, p in params)} parameters, {train.n} pairs, "
          f"batch {a.batch}, {a.steps} steps (data ready in {time.perf_counter() - t0:.1f} s)", file=sys.stderr)

    def lr_at(s):
        if s < a.warmup:
            return a.lr * (s + 1) / a.warmup
        e, E = s - a.warmup, a.steps - a.warmup
        return 0.5 * (1 + math.cos(math.pi * e / E)) * a.lr

    def held_out():
        m.eval()
        B = min(a.batch, val.n)
        tot = 0.0
        with torch.no_grad():
            for b in range(val.n // B):
                idx = range(b * B, (b + 1) * B)
                tot += m.loss(torch.stack([val.pixels(i, S) for i in idx]), val.tokens[list(idx)]).item()
        m.train()
        return tot / (val.n // B)

    epoch, plan, pos, start = 0, epoch_plan(train, a.seed, 0, a.batch), 0, time.perf_counter()
    for step in range(a.steps):
        if pos == len(plan):
            epoch, pos = epoch + 1, 0
            plan = epoch_plan(train, a.seed, epoch, a.batch)
        idx = plan[pos]
        pos += 1
        rng = random.Random(a.seed * 1000003 + step)
        img = torch.stack([train.pixels(i, S, rng, a) for i in idx])
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        opt.zero_grad(set_to_none=True)
        loss = m.loss(img, train.tokens[idx])
        loss.backward()
        opt.step()
        with torch.no_grad():
            m.logit_scale.clamp_(0, math.log(100))
        done = step + 1
        if log:
            log.write(json.dumps({"step": done, "epoch": epoch, "loss": loss.item(), "lr": lr_at(step)}) + "\n")
        if done % 10 == 0 or done == a.steps:
            el = time.perf_counter() - start
            print(f"step {done}/{a.steps}  loss {loss.item():.4f}  lr {lr_at(step):.3e}  scale {m.logit_scale.exp().item():.2f}"
                  f"  {done * a.batch / el:.1f} samples/s", file=sys.stderr)
        if done % a.eval_every == 0 or done == a.steps:
            v = held_out()
            print(f"step {done}  held-out loss {v:.4f}", file=sys.stderr)
            if log:
                log.write(json.dumps({"step": done, "eval_loss": v}) + "\n")
    save_safetensors(m, a.out)
    print(f"wrote {a.out}; training {time.perf_counter() - start:.1f} s, total {time.perf_counter() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()

"""The PyTorch side of bench/bench_train.c: the same small CLIP (ViT-S-64: image 64, patch 8,
width 256 x 6 layers; text width 256 x 6 layers, context 77, embed 256), batch 64, the same
AdamW step, written in the manner of OpenAI's model.py (pre-LN blocks, QuickGELU,
nn.MultiheadAttention, causal mask over all 77 positions, as every PyTorch CLIP runs it).

Run with the system torch and OpenBLAS's AVX-512 kernels (see /work/shared/notes/perf-anchors.md):
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread OPENBLAS_CORETYPE=SkylakeX \
  OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/train_pytorch.py [--steps 3]
"""
import argparse, math, time
import torch
import torch.nn as nn
import torch.nn.functional as F


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Block(nn.Module):
    def __init__(self, w, heads, mask=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(w, heads)
        self.ln_1 = nn.LayerNorm(w)
        self.mlp = nn.Sequential(nn.Linear(w, 4 * w), QuickGELU(), nn.Linear(4 * w, w))
        self.ln_2 = nn.LayerNorm(w)
        self.mask = mask

    def forward(self, x):
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False, attn_mask=self.mask)[0]
        return x + self.mlp(self.ln_2(x))


class CLIP(nn.Module):
    def __init__(self, img=64, patch=8, vw=256, vl=6, tw=256, tl=6, ctx=77, vocab=49408, embed=256):
        super().__init__()
        g = img // patch
        self.conv1 = nn.Conv2d(3, vw, patch, patch, bias=False)
        self.cls = nn.Parameter(torch.randn(vw) * vw ** -0.5)
        self.vpos = nn.Parameter(torch.randn(g * g + 1, vw) * vw ** -0.5)
        self.ln_pre, self.ln_post = nn.LayerNorm(vw), nn.LayerNorm(vw)
        self.vblocks = nn.Sequential(*[Block(vw, vw // 64) for _ in range(vl)])
        self.vproj = nn.Parameter(torch.randn(vw, embed) * vw ** -0.5)
        mask = torch.full((ctx, ctx), float("-inf")).triu_(1)
        self.tok = nn.Embedding(vocab, tw)
        self.tpos = nn.Parameter(torch.randn(ctx, tw) * 0.01)
        self.tblocks = nn.Sequential(*[Block(tw, tw // 64, mask) for _ in range(tl)])
        self.ln_final = nn.LayerNorm(tw)
        self.tproj = nn.Parameter(torch.randn(tw, embed) * tw ** -0.5)
        self.logit_scale = nn.Parameter(torch.ones([]) * math.log(1 / 0.07))

    def encode_image(self, x):
        x = self.conv1(x).flatten(2).permute(0, 2, 1)
        x = torch.cat([self.cls.expand(x.shape[0], 1, -1), x], 1) + self.vpos
        x = self.vblocks(self.ln_pre(x).permute(1, 0, 2)).permute(1, 0, 2)
        return self.ln_post(x[:, 0]) @ self.vproj

    def encode_text(self, t):
        x = self.tok(t) + self.tpos
        x = self.ln_final(self.tblocks(x.permute(1, 0, 2)).permute(1, 0, 2))
        return x[torch.arange(x.shape[0]), t.argmax(-1)] @ self.tproj

    def loss(self, img, txt):
        i = F.normalize(self.encode_image(img), dim=-1)
        t = F.normalize(self.encode_text(txt), dim=-1)
        logits = self.logit_scale.exp() * i @ t.T
        labels = torch.arange(img.shape[0])
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(1)   # OpenBLAS threads do the GEMMs (OPENBLAS_NUM_THREADS)
    torch.manual_seed(0)
    m = CLIP()
    decay = [p for n, p in m.named_parameters() if p.ndim >= 2 and "ln" not in n and "logit_scale" not in n]
    rest = [p for n, p in m.named_parameters() if not (p.ndim >= 2 and "ln" not in n and "logit_scale" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.2}, {"params": rest, "weight_decay": 0.0}],
                            lr=5e-4, betas=(0.9, 0.98), eps=1e-6)
    B = a.batch
    img = torch.randn(B, 3, 64, 64)
    txt = torch.zeros(B, 77, dtype=torch.long)
    g = torch.Generator().manual_seed(3)
    for b in range(B):
        n = 5 + int(torch.randint(0, 16, (1,), generator=g))
        txt[b, 0] = 49406
        txt[b, 1:n] = torch.randint(1, 40000, (n - 1,), generator=g)
        txt[b, n] = 49407

    def step():
        opt.zero_grad(set_to_none=True)
        loss = m.loss(img, txt)
        loss.backward()
        opt.step()
        with torch.no_grad():
            m.logit_scale.clamp_(0, math.log(100))
        return loss.item()

    step()   # warm-up
    t = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    dt = (time.perf_counter() - t) / a.steps
    print(f"pytorch {torch.__version__} batch {B}, 77 text positions: step {dt:.3f} s  {B / dt:.1f} samples/s  loss {loss:.4f}")


if __name__ == "__main__":
    main()

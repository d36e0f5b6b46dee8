"""Tree decoding for dependency parsing: Chu–Liu/Edmonds maximum spanning arborescence and greedy heads.

Score matrices follow the parser's layout: `scores[i, j]` is the score of word i+1 (1-based dependent)
taking node j as its head, with j = 0 the artificial root; shape [n_words, n_words + 1].
Heads come back 1-based with 0 = root, one per word.
"""
from __future__ import annotations

import numpy as np

NEG = -np.inf


def greedy_heads(scores: np.ndarray) -> list[int]:
    """Best head per word independently (fast; may produce cycles or several roots)."""
    scores = np.array(scores, dtype=np.float64)
    n = scores.shape[0]
    scores[np.arange(n), np.arange(n) + 1] = NEG  # a word cannot head itself
    return scores.argmax(axis=1).tolist()


def mst_heads(scores: np.ndarray, single_root: bool = True) -> list[int]:
    """Heads of the highest-scoring well-formed tree (Chu–Liu/Edmonds).

    With `single_root` exactly one word attaches to the root: every root arc is penalised by more
    than any tree's score range can make up, so the optimum uses as few root arcs as possible (one),
    and among single-root trees the ordering by score is unchanged.
    """
    scores = np.asarray(scores, dtype=np.float64)
    n = scores.shape[0]
    if n == 0:
        return []
    if scores.shape != (n, n + 1):
        raise ValueError(f"scores must have shape [n, n+1]; got {scores.shape}")
    full = np.full((n + 1, n + 1), NEG)  # full[d, h] over nodes 0..n; the root takes no head
    full[1:, :] = scores
    full[np.arange(1, n + 1), np.arange(1, n + 1)] = NEG
    finite = np.isfinite(full)
    if not finite[1:, :].any(axis=1).all():
        raise ValueError("every word needs at least one finite head score")
    if single_root and n > 1:
        spread = full[finite].max() - full[finite].min()
        full[1:, 0] -= (spread + 1.0) * (n + 1)
    heads = _chu_liu_edmonds(full)
    return heads[1:].tolist()


def _find_cycle(heads: np.ndarray) -> list[int] | None:
    """A cycle among nodes 1.. of a head array (node 0 = root, heads[0] ignored), or None."""
    n = len(heads)
    state = np.zeros(n, dtype=np.int8)  # 0 unseen, 1 on the current path, 2 finished
    state[0] = 2
    for start in range(1, n):
        path, node = [], start
        while state[node] == 0:
            state[node] = 1
            path.append(node)
            node = heads[node]
        if state[node] == 1:  # came back onto the current path: a cycle
            return path[path.index(node):]
        for visited in path:
            state[visited] = 2
    return None


def _chu_liu_edmonds(scores: np.ndarray) -> np.ndarray:
    """Recursive contraction on a square matrix scores[dependent, head]; node 0 is the root."""
    heads = scores.argmax(axis=1)
    heads[0] = 0
    cycle = _find_cycle(heads)
    if cycle is None:
        return heads
    in_cycle = np.zeros(len(heads), dtype=bool)
    in_cycle[cycle] = True
    outside = np.flatnonzero(~in_cycle)  # includes the root (index 0 stays 0)
    members = np.array(cycle)
    k = len(outside)  # the contracted cycle becomes node k of the smaller graph
    small = np.full((k + 1, k + 1), NEG)
    small[:k, :k] = scores[np.ix_(outside, outside)]
    # an outside word headed by the cycle: take its best head inside the cycle
    into_outside = scores[np.ix_(outside, members)]
    best_member_head = members[into_outside.argmax(axis=1)]
    small[:k, k] = into_outside.max(axis=1)
    # the cycle headed by an outside node: gain of breaking the cycle at its best entry point
    kept = scores[members, heads[members]]
    entering = scores[np.ix_(members, outside)] - kept[:, None]
    best_entry = members[entering.argmax(axis=0)]
    small[k, :k] = entering.max(axis=0)
    small[0, :] = NEG
    small_heads = _chu_liu_edmonds(small)
    result = heads.copy()
    for index, node in enumerate(outside[1:], start=1):
        head = small_heads[index]
        result[node] = best_member_head[index] if head == k else outside[head]
    entry_head = small_heads[k]
    result[best_entry[entry_head]] = outside[entry_head]  # the other cycle members keep their cycle arcs
    return result

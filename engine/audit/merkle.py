"""A Merkle tree as Certificate Transparency builds it (RFC 6962 §2.1, RFC 9162 §2.1).

Leaves and inner nodes are hashed with different prefixes (0x00, 0x01), so that no inner node can
be passed off as a leaf; a tree of any size is left-complete, so an inclusion proof is a list of at
most log2(n) sibling hashes from the leaf up to the root.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _next_level(nodes: Sequence[bytes]) -> list[bytes]:
    """Pairs hashed together; an odd last node moves up unchanged, which yields exactly the
    RFC's split at the largest power of two below n."""
    paired = [node_hash(nodes[i], nodes[i + 1]) for i in range(0, len(nodes) - 1, 2)]
    if len(nodes) % 2:
        paired.append(nodes[-1])
    return paired


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The tree head over leaf hashes in their order."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index``, bottom-up, as RFC 9162 §2.1.3.1 defines it."""
    if not 0 <= index < len(leaf_hashes):
        raise IndexError(f"leaf {index} is not in a tree of {len(leaf_hashes)}")
    proof: list[bytes] = []
    level = list(leaf_hashes)
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        level = _next_level(level)
        index >>= 1
    return proof


def root_from_proof(leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes]) -> bytes | None:
    """The root that ``proof`` leads to from leaf hash ``leaf`` (RFC 9162 §2.1.3.2), or None when
    the proof cannot belong to a tree of ``tree_size`` at all (too long, too short)."""
    if not 0 <= index < tree_size:
        return None
    fn, sn, node = index, tree_size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            node = node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    return node if sn == 0 else None

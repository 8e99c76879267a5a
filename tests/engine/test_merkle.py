"""The Merkle tree is RFC 6962's: its roots match Certificate Transparency's reference vectors and
the recursive definition for every size, and every inclusion proof verifies only for its leaf."""

from __future__ import annotations

import hashlib

import pytest

from engine.audit import merkle

# RFC 6962 reference leaves and the tree heads of their first 1..8 (certificate-transparency tests).
CT_LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                         "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _rfc_root(leaves: list[bytes]) -> bytes:
    """MTH as RFC 6962 §2.1 writes it: split at the largest power of two below n."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(_rfc_root(leaves[:k]), _rfc_root(leaves[k:]))


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(str(i).encode()) for i in range(n)]


@pytest.mark.parametrize("size", range(1, len(CT_LEAVES) + 1))
def test_roots_match_the_certificate_transparency_vectors(size):
    assert merkle.root([merkle.leaf_hash(d) for d in CT_LEAVES[:size]]).hex() == CT_ROOTS[size - 1]


def test_the_empty_tree_is_the_hash_of_nothing():
    assert merkle.root([]) == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("size", [*range(1, 34), 100, 1000])
def test_roots_follow_the_recursive_definition_and_every_leaf_proves_its_inclusion(size):
    leaves = _leaves(size)
    root = merkle.root(leaves)
    assert root == _rfc_root(leaves)
    for index in range(size):
        proof = merkle.inclusion_proof(leaves, index)
        assert len(proof) <= max(1, (size - 1).bit_length())
        assert merkle.root_from_proof(leaves[index], index, size, proof) == root


def test_a_proof_does_not_verify_for_another_leaf_position_size_or_sibling():
    leaves = _leaves(13)
    root = merkle.root(leaves)
    proof = merkle.inclusion_proof(leaves, 6)
    assert merkle.root_from_proof(leaves[7], 6, 13, proof) != root
    assert merkle.root_from_proof(leaves[6], 7, 13, proof) != root
    assert merkle.root_from_proof(leaves[6], 6, 8, proof) is None  # a path too long for 8 leaves
    assert merkle.root_from_proof(leaves[6], 6, 13, [proof[0][::-1], *proof[1:]]) != root
    assert merkle.root_from_proof(leaves[6], 6, 13, proof[:-1]) is None
    assert merkle.root_from_proof(leaves[6], 6, 13, [*proof, proof[0]]) is None
    assert merkle.root_from_proof(leaves[6], 13, 13, proof) is None

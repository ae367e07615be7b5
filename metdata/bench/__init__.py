"""The MET benchmark: descriptors, PCA-whitening, the kNN classifier and the scorer (met_protocol.md §4-6).

Numeric code is short functions over numpy arrays; only `knn` needs faiss, only `features` torch.
"""

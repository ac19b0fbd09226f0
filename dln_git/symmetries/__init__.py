"""Related symmetry systems (MATH.md section 6): gauge fixing of positively homogeneous (ReLU)
networks, SGD noise equilibria, quotient observables and Burgers shocks of the local entropy, and
symmetry via duality (parameter-space correlators).

Each reuses the core's vocabulary: the neuron-rescaling torus is the diagonal subgroup of the DLN
gauge group, its moment map is the diagonal of ``mu``, an attention pair is a depth-2 linear
network under GL(d_k).
"""

import NMTensor

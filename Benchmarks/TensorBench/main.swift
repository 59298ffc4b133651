import NMTensor
print(ComputeThreads.blasDescription)

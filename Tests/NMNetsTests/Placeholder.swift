import NMNets

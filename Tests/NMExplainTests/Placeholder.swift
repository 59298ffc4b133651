import NMExplain

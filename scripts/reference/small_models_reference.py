"""Small, randomly initialised CNNs with torchvision's exact parameter names and wiring, for CI.

Run from anywhere (about 10 s on one core):
    python3 scripts/reference/small_models_reference.py

Needs: torch, numpy, safetensors. Does not need torchvision: the architectures are re-written
here after torchvision.models.{resnet,vgg,inception} (same module names, same order, same
padding/pooling), at reduced width so the weights are small.

Writes to Tests/NMNetsTests/References/, for model in
(resnet18, resnet50, vgg16, inception_v3, cifar10):
  <model>_small.safetensors        the state_dict: float32 weights/biases/BatchNorm running
                                   statistics and int64 scalar BatchNorm num_batches_tracked,
                                   with torchvision's key names.
  <model>_small_input.npy          float32 NCHW input, uniform in [0,1) from NumPy's PCG64.
  <model>_small_logits.npy         [N,10] logits = model(input) (eval mode: BatchNorm uses the
                                   running statistics, Dropout is the identity).
  <model>_small_input_gradient.npy d (sum_n logits[n, target_n]) / d input, target_n =
                                   argmax_k logits[n, k] (also in the JSON).
  <model>_small.json               architecture summary, shapes, targets, seeds, and how far a
                                   plain PyTorch float32 evaluation lands from these numbers.
The input has no normalisation applied: logits = net(input) directly.

Weights: conv/linear weights He-normal (std sqrt(2/fan_in); the last linear sqrt(1/fan_in)),
biases uniform(-0.1, 0.1), BatchNorm weight uniform(0.5, 1.5) and bias uniform(-0.2, 0.2); the
BatchNorm running statistics are then measured (train-mode cumulative average over 4 random
calibration batches), so they are non-trivial (means away from 0, variances away from 1) and
keep activations well scaled. Logits, gradients and activations are computed in float64 from
the stored float32 weights and input, then stored as float32.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import refutil

NUM_CLASSES = 10

# ---------------------------------------------------------------- ResNet (torchvision.models.resnet)


def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """torchvision's ResNet v1.5 bottleneck: the stride sits on the 3x3 conv (conv2)."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        width = planes  # int(planes * (base_width / 64.0)) * groups with base_width 64, groups 1
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, block, layers, widths, num_classes=NUM_CLASSES):
        super().__init__()
        self.inplanes = widths[0]
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, widths[0], layers[0])
        self.layer2 = self._make_layer(block, widths[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, widths[2], layers[2], stride=2)
        self.layer4 = self._make_layer(block, widths[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[3] * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


# ---------------------------------------------------------------- VGG (torchvision.models.vgg)


class VGG(nn.Module):
    def __init__(self, cfg, hidden, num_classes=NUM_CLASSES):
        super().__init__()
        layers, cin = [], 3
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(cin, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                cin = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(cin * 7 * 7, hidden), nn.ReLU(True), nn.Dropout(p=0.5),
            nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(p=0.5),
            nn.Linear(hidden, num_classes))

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


# ---------------------------------------------------------------- Inception-v3 (torchvision.models.inception)
# Every channel count of torchvision's Inception3 divided by D (torchvision's own classes
# hard-code the counts, so they cannot be narrowed; these are the same classes, re-typed).


class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class InceptionA(nn.Module):
    def __init__(self, cin, pool_features, d):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64 // d, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48 // d, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48 // d, 64 // d, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64 // d, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64 // d, 96 // d, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96 // d, 96 // d, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    def __init__(self, cin, d):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384 // d, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64 // d, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64 // d, 96 // d, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96 // d, 96 // d, kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, bd, bp], 1)


class InceptionC(nn.Module):
    def __init__(self, cin, c7, d):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192 // d, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192 // d, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192 // d, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192 // d, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        bd = self.branch7x7dbl_5(self.branch7x7dbl_4(self.branch7x7dbl_3(self.branch7x7dbl_2(bd))))
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):
    def __init__(self, cin, d):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192 // d, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192 // d, 320 // d, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192 // d, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192 // d, 192 // d, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192 // d, 192 // d, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192 // d, 192 // d, kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(b7)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b7, bp], 1)


class InceptionE(nn.Module):
    def __init__(self, cin, d):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 320 // d, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384 // d, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384 // d, 384 // d, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384 // d, 384 // d, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448 // d, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448 // d, 384 // d, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384 // d, 384 // d, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384 // d, 384 // d, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192 // d, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b3, bd, bp], 1)


class Inception3(nn.Module):
    """torchvision Inception3(aux_logits=False, transform_input=False), channels / d."""

    def __init__(self, d, num_classes=NUM_CLASSES):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32 // d, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32 // d, 32 // d, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32 // d, 64 // d, kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(64 // d, 80 // d, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80 // d, 192 // d, kernel_size=3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = InceptionA(192 // d, 32 // d, d)
        self.Mixed_5c = InceptionA(256 // d, 64 // d, d)
        self.Mixed_5d = InceptionA(288 // d, 64 // d, d)
        self.Mixed_6a = InceptionB(288 // d, d)
        self.Mixed_6b = InceptionC(768 // d, 128 // d, d)
        self.Mixed_6c = InceptionC(768 // d, 160 // d, d)
        self.Mixed_6d = InceptionC(768 // d, 160 // d, d)
        self.Mixed_6e = InceptionC(768 // d, 192 // d, d)
        self.Mixed_7a = InceptionD(768 // d, d)
        self.Mixed_7b = InceptionE(1280 // d, d)
        self.Mixed_7c = InceptionE(2048 // d, d)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=0.5)
        self.fc = nn.Linear(2048 // d, num_classes)

    def forward(self, x):
        for name in ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1",
                     "Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c",
                     "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
                     "Mixed_7a", "Mixed_7b", "Mixed_7c", "avgpool", "dropout"]:
            x = getattr(self, name)(x)
        return self.fc(torch.flatten(x, 1))


# ---------------------------------------------------------------- CIFAR-10 net of the NeuroMask demo


class CifarNet(nn.Module):
    """The Keras model of nesl/neuromask setup_cifar.py (Carlini's CIFAR model) in torch layout:
    Conv2D defaults to 'valid' padding, so 32 -> 30 -> 28 -> pool 14 -> 12 -> 10 -> pool 5.
    Flatten is torch's (C, H, W) order, NOT Keras' (H, W, C). No input shift here (the authors'
    CIFARModel.__call__ feeds `data - 0.5`; neuromask_reference.py adds that)."""

    def __init__(self, c1=64, c2=128, hidden=256, num_classes=NUM_CLASSES):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, c1, 3), nn.ReLU(), nn.Conv2d(c1, c1, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3), nn.ReLU(), nn.Conv2d(c2, c2, 3), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Linear(c2 * 5 * 5, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


# ---------------------------------------------------------------- initialisation


def init_weights(net, seed):
    """Deterministic random weights (see the module docstring); BN stats measured afterwards."""
    g = torch.Generator().manual_seed(seed)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                gain = 1.0 if m is linears[-1] else 2.0
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (gain / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.2 - 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.4 - 0.2)


def calibrate_batchnorm(net, shape, seed, batches=4):
    """Sets every BatchNorm's running statistics to the cumulative average of its batch
    statistics over `batches` random uniform [0,1) batches of `shape` (train mode)."""
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    if not bns:
        return
    rng = np.random.default_rng(seed)
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    net.train()
    with torch.no_grad():
        for _ in range(batches):
            net(torch.from_numpy(rng.random(shape, dtype=np.float32)))
    for m in bns:
        m.momentum = 0.1
    net.eval()


# ---------------------------------------------------------------- the models

INCEPTION_DIVISOR = 8
INCEPTION_SIZE = 107  # see MODELS["inception_v3"]["notes"]

MODELS = {
    "resnet18": {
        "build": lambda: ResNet(BasicBlock, [2, 2, 2, 2], [8, 16, 32, 64]),
        "input": [2, 3, 64, 64],
        "notes": "torchvision resnet18 wiring: conv1 7x7 s2 p3 (no bias), bn1, relu, maxpool 3x3 s2 "
                 "p1 (implicit -inf padding, ceil_mode False), layer1..4 of BasicBlocks [2,2,2,2] "
                 "with widths [8,16,32,64] (stride 2 on the first block of layer2..4, on conv1 of "
                 "the block and on downsample.0, a 1x1 conv + BN), avgpool AdaptiveAvgPool2d(1), "
                 "flatten, fc 64 -> 10. BatchNorm eps 1e-5. layer1 has no downsample (8 == 8). "
                 "Spatial: 64 -> 32 -> 16 -> 16 -> 8 -> 4 -> 2 -> 1.",
    },
    "resnet50": {
        "build": lambda: ResNet(Bottleneck, [3, 4, 6, 3], [8, 16, 32, 64]),
        "input": [1, 3, 64, 64],
        "notes": "torchvision resnet50 wiring (ResNet v1.5: the stride is on the 3x3 conv2 of the "
                 "first Bottleneck of layer2..4 and on its downsample.0 1x1 conv), stem 8 "
                 "channels, planes [8,16,32,64], expansion 4 (outputs 32, 64, 128, 256), "
                 "layer1.0 has a stride-1 downsample (8 != 32), fc 256 -> 10. BatchNorm eps 1e-5.",
    },
    "vgg16": {
        "build": lambda: VGG([4, 4, "M", 8, 8, "M", 16, 16, 16, "M", 32, 32, 32, "M",
                              32, 32, 32, "M"], hidden=64),
        "input": [1, 3, 64, 64],
        "notes": "torchvision vgg16 (cfg D, no BatchNorm) at width /16: convs 3x3 p1 with bias, "
                 "ReLU, MaxPool2d(2,2); features indices: convs 0,2,5,7,10,12,14,17,19,21,24,26,28, "
                 "pools 4,9,16,23,30. 64x64 -> 2x2 after 5 pools; AdaptiveAvgPool2d((7,7)) then "
                 "UPSAMPLES 2x2 to 7x7: output row/col i averages input rows/cols "
                 "[floor(i*2/7), ceil((i+1)*2/7)), i.e. rows 0,1,2 copy input row 0, row 3 is the "
                 "mean of rows 0 and 1, rows 4,5,6 copy row 1 (same for columns). flatten in (C,H,W) "
                 "order -> 32*7*7 = 1568; classifier.0 Linear(1568,64), ReLU, Dropout, "
                 "classifier.3 Linear(64,64), ReLU, Dropout, classifier.6 Linear(64,10).",
    },
    "inception_v3": {
        "build": lambda: Inception3(INCEPTION_DIVISOR),
        "input": [1, 3, INCEPTION_SIZE, INCEPTION_SIZE],
        "notes": "torchvision Inception3(aux_logits=False, transform_input=False) with every channel "
                 "count divided by 8 (no AuxLogits.* keys). BasicConv2d = conv (no bias) + "
                 "BatchNorm(eps 0.001) + ReLU. Convs without padding unless stated (Conv2d_1a s2, "
                 "2a, 4a are 'valid'; 2b p1). maxpool1/maxpool2 and the pool branches of Mixed_6a "
                 "(InceptionB) and Mixed_7a (InceptionD) are max_pool2d 3x3 s2 without padding "
                 "(floor). The pool branches of InceptionA/C/E are avg_pool2d 3x3 s1 p1 with "
                 "count_include_pad=True (always divide by 9, zeros at the border count). Branch "
                 "outputs are concatenated on channels in the order of the torchvision code "
                 "(A: 1x1, 5x5, 3x3dbl, pool; B: 3x3, 3x3dbl, pool; C: 1x1, 7x7, 7x7dbl, pool; "
                 "D: 3x3, 7x7x3, pool; E: 1x1, [3x3_2a, 3x3_2b], [3x3dbl_3a, 3x3dbl_3b], pool). "
                 "Input 107 (75 is the smallest accepted size, but then Mixed_7* run at 1x1 and "
                 "their 3x3/1x3/3x1 kernels only use the centre tap; 107 keeps 2x2 there): "
                 "107 -> 53 -> 51 -> 51 -> pool 25 -> 25 -> 23 -> pool 11 -> Mixed_5* 11 -> "
                 "Mixed_6a 5 -> Mixed_6* 5 -> Mixed_7a 2 -> Mixed_7* 2 -> avgpool 1; fc 256 -> 10.",
    },
    "cifar10": {
        "build": lambda: CifarNet(c1=16, c2=32, hidden=64),
        "input": [2, 3, 32, 32],
        "notes": "the NeuroMask authors' Keras CIFAR-10 net (setup_cifar.py) at width /4: "
                 "features.0 Conv2d(3,16,3) valid, ReLU, features.2 Conv2d(16,16,3) valid, ReLU, "
                 "features.4 MaxPool2d(2), features.5 Conv2d(16,32,3) valid, ReLU, features.7 "
                 "Conv2d(32,32,3) valid, ReLU, features.9 MaxPool2d(2), flatten in torch (C,H,W) "
                 "order (32*5*5 = 800), classifier.0 Linear(800,64), ReLU, classifier.2 "
                 "Linear(64,64), ReLU, classifier.4 Linear(64,10). Spatial 32 -> 30 -> 28 -> 14 "
                 "-> 12 -> 10 -> 5. Convs and linears have biases; no BatchNorm. Full width would "
                 "be 64,64,128,128 / 256,256 (flatten 3200), 4.6 MB of weights.",
    },
}


def spatial_trace(net, x):
    """Output shapes of the top-level children (for the JSON), via forward hooks."""
    shapes, hooks = [], []
    for name, m in net.named_children():
        hooks.append(m.register_forward_hook(
            lambda mod, inp, out, name=name: shapes.append([name, list(out.shape)])))
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    return shapes


def logits_and_gradient(net, x32):
    x = torch.from_numpy(x32).to(next(net.parameters()).dtype).requires_grad_(True)
    logits = net(x)
    target = logits.detach().argmax(1)
    (grad,) = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), x)
    return logits.detach(), target, grad


def build(name, seed):
    spec = MODELS[name]
    torch.manual_seed(seed)  # only affects torch's default init, overwritten below
    net = spec["build"]()
    init_weights(net, seed)
    calibrate_batchnorm(net, [4] + spec["input"][1:], seed + 1000)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def main():
    refutil.setup_torch()
    print("writing to", refutil.rel(refutil.OUT))
    for seed, name in enumerate(MODELS):
        spec = MODELS[name]
        net = build(name, seed)
        stem = "%s_small" % name
        files = {stem + ".safetensors": refutil.save_weights(
            stem + ".safetensors", net,
            "scripts/reference/small_models_reference.py (%s)" % name)}
        x32 = np.random.default_rng(seed).random(spec["input"], dtype=np.float32)
        net64 = build(name, seed).double()  # same float32 weights, evaluated in float64
        logits, target, grad = logits_and_gradient(net64, x32)
        logits32, _, grad32 = logits_and_gradient(net, x32)
        files[stem + "_input.npy"] = refutil.save_npy(stem + "_input.npy", x32)
        files[stem + "_logits.npy"] = refutil.save_npy(stem + "_logits.npy", logits)
        files[stem + "_input_gradient.npy"] = refutil.save_npy(stem + "_input_gradient.npy", grad)
        top2 = logits.topk(2, 1).values
        bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
        bn_ranges = None
        if bns:
            means = torch.cat([m.running_mean for m in bns])
            variances = torch.cat([m.running_var for m in bns])
            bn_ranges = {"layers": len(bns), "eps": sorted({m.eps for m in bns}),
                         "num_batches_tracked": int(bns[0].num_batches_tracked),
                         "running_mean_range": [float(means.min()), float(means.max())],
                         "running_var_range": [float(variances.min()), float(variances.max())]}
        meta = {
            "generator": "scripts/reference/small_models_reference.py",
            "model": name,
            "architecture": spec["notes"],
            "weights_seed": seed,
            "input": "numpy.random.default_rng(%d).random(%s, dtype=float32), uniform [0,1), "
                     "fed to the net without normalisation" % (seed, spec["input"]),
            "computed_in": "float64 (float32 weights and input), stored as float32",
            "files": files,
            "parameters": int(sum(p.numel() for p in net.parameters())),
            "targets": [int(t) for t in target],
            "top1_minus_top2_logit": [float(v) for v in (top2[:, 0] - top2[:, 1])],
            "input_gradient": "d (sum over the batch of logits[n, targets[n]]) / d input",
            "logits": logits.tolist(),
            "top_level_output_shapes": spatial_trace(net, torch.from_numpy(x32)),
            "batchnorm": bn_ranges,
            "pytorch_float32_vs_this_reference": {
                "logits_max_abs_diff": float((logits32.double() - logits).abs().max()),
                "input_gradient_max_abs_diff": float((grad32.double() - grad).abs().max()),
                "input_gradient_max_abs": float(grad.abs().max()),
            },
        }
        refutil.save_json(stem + ".json", meta)
        print("  %s: %d parameters, targets %s, top1-top2 margin %s" % (
            name, meta["parameters"], meta["targets"],
            ["%.3f" % v for v in meta["top1_minus_top2_logit"]]))


if __name__ == "__main__":
    main()

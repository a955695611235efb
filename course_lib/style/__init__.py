"""Neural style transfer: the Gram matrix and the losses, the networks that measure them,
image optimisation (Gatys et al., 2016) and a feed-forward network (Johnson et al., 2016).

    import course_lib as cl
    net = cl.style.efficientnet_lite0()                       # or vgg19(), random_multiscale()
    loss = cl.style.PerceptualLoss(net, style, content_weight=1, style_weight=1e2, tv_weight=1)
    result = cl.style.optimize_image(loss.for_content(content), content, method="lbfgs", steps=100)
    result.image                                              # (H, W, 3) in [0, 1]

Images are float arrays in [0, 1] (``cl.data.scale_images``). The losses follow the lecture:
S^l = F^l F^l^T and L_style = sum_l 1/(N_l^2 M_l^2) sum_ij (S(x)^l_ij - S(y)^l_ij)^2; Gatys et
al.'s constant 1/4 and layer weights are arguments (`style_loss`).
"""

from course_lib.style.images import load, square, to_uint8
from course_lib.style.losses import content_loss, gram_matrix, style_layer_loss, style_loss, total_variation
from course_lib.style.networks import (EFFICIENTNET_CONTENT_LAYER, EFFICIENTNET_STYLE_LAYERS, MULTISCALE_SIZES,
                                       VGG19_CONTENT_LAYER, VGG19_STYLE_LAYERS, StyleNetwork, efficientnet_lite0,
                                       feature_extractor, random_multiscale, vgg19)
from course_lib.style.optimize import METHODS, ImageResult, optimize_image
from course_lib.style.perceptual import Objective, PerceptualLoss
from course_lib.style.transform_net import JOHNSON_FILTERS, JOHNSON_RESIDUAL_BLOCKS, transform_net

__all__ = ["load", "square", "to_uint8", "gram_matrix", "style_layer_loss", "style_loss", "content_loss", "total_variation", "feature_extractor",
           "StyleNetwork", "efficientnet_lite0", "vgg19", "random_multiscale", "PerceptualLoss", "Objective", "optimize_image",
           "ImageResult", "METHODS", "transform_net", "EFFICIENTNET_STYLE_LAYERS", "EFFICIENTNET_CONTENT_LAYER",
           "VGG19_STYLE_LAYERS", "VGG19_CONTENT_LAYER", "MULTISCALE_SIZES", "JOHNSON_FILTERS", "JOHNSON_RESIDUAL_BLOCKS"]

"""ndgrad.distributions: probability distributions with torch.distributions' API.

    from ndgrad.distributions import Normal, kl_divergence
    d = Normal(loc, scale)
    x = d.rsample((100,))          # reparameterized: gradients flow to loc and scale
    loss = -d.log_prob(x).mean() + kl_divergence(d, Normal(0.0, 1.0)).sum()

Sampling draws from ndgrad's default generator (``ndgrad.manual_seed``): the streams differ
from torch's, the distributions do not. log_prob, entropy, cdf/icdf and kl_divergence follow
torch's formulas. Reparameterized sampling (rsample): Normal, Uniform, Laplace, Cauchy,
Exponential, LogNormal, Gumbel, StudentT, HalfNormal, HalfCauchy, Pareto, Weibull,
Kumaraswamy, LogisticNormal, the relaxed categoricals, MultivariateNormal,
LowRankMultivariateNormal, Wishart (Bartlett), ContinuousBernoulli, GeneralizedPareto, and
Gamma, Chi2, InverseGamma, Beta, Dirichlet and FisherSnedecor by implicit reparameterization
(ndgrad/ops/reparam.py). VonMises samples by rejection and LKJCholesky by the
onion method, both without rsample.
"""

from ndgrad.distributions import constraints, transforms
from ndgrad.distributions.bernoulli import Bernoulli
from ndgrad.distributions.binomial import Binomial
from ndgrad.distributions.categorical import Categorical
from ndgrad.distributions.cauchy import Cauchy
from ndgrad.distributions.constraint_registry import biject_to, transform_to
from ndgrad.distributions.continuous_bernoulli import ContinuousBernoulli
from ndgrad.distributions.dirichlet import Beta, Dirichlet
from ndgrad.distributions.distribution import Distribution
from ndgrad.distributions.exp_family import ExponentialFamily
from ndgrad.distributions.exponential import Exponential
from ndgrad.distributions.fishersnedecor import FisherSnedecor
from ndgrad.distributions.gamma import Chi2, Gamma
from ndgrad.distributions.generalized_pareto import GeneralizedPareto
from ndgrad.distributions.geometric import Geometric
from ndgrad.distributions.gumbel import Gumbel
from ndgrad.distributions.half_cauchy import HalfCauchy
from ndgrad.distributions.half_normal import HalfNormal
from ndgrad.distributions.independent import Independent
from ndgrad.distributions.inverse_gamma import InverseGamma
from ndgrad.distributions.kl import kl_divergence, register_kl
from ndgrad.distributions.kumaraswamy import Kumaraswamy
from ndgrad.distributions.laplace import Laplace
from ndgrad.distributions.lkj_cholesky import LKJCholesky
from ndgrad.distributions.log_normal import LogNormal
from ndgrad.distributions.logistic_normal import LogisticNormal
from ndgrad.distributions.lowrank_multivariate_normal import LowRankMultivariateNormal
from ndgrad.distributions.mixture_same_family import MixtureSameFamily
from ndgrad.distributions.multinomial import Multinomial
from ndgrad.distributions.multivariate_normal import MultivariateNormal
from ndgrad.distributions.negative_binomial import NegativeBinomial
from ndgrad.distributions.normal import Normal
from ndgrad.distributions.one_hot_categorical import (
    OneHotCategorical,
    OneHotCategoricalStraightThrough,
)
from ndgrad.distributions.pareto import Pareto
from ndgrad.distributions.poisson import Poisson
from ndgrad.distributions.relaxed_bernoulli import LogitRelaxedBernoulli, RelaxedBernoulli
from ndgrad.distributions.relaxed_categorical import (
    ExpRelaxedCategorical,
    RelaxedOneHotCategorical,
)
from ndgrad.distributions.structured_transforms import (
    CatTransform,
    CorrCholeskyTransform,
    PositiveDefiniteTransform,
    StackTransform,
)
from ndgrad.distributions.studentT import StudentT
from ndgrad.distributions.transformed_distribution import TransformedDistribution
from ndgrad.distributions.transforms import (
    AbsTransform,
    AffineTransform,
    ComposeTransform,
    CumulativeDistributionTransform,
    ExpTransform,
    IndependentTransform,
    LowerCholeskyTransform,
    PowerTransform,
    ReshapeTransform,
    SigmoidTransform,
    SoftmaxTransform,
    SoftplusTransform,
    StickBreakingTransform,
    TanhTransform,
    Transform,
    identity_transform,
)
from ndgrad.distributions.uniform import Uniform
from ndgrad.distributions.von_mises import VonMises
from ndgrad.distributions.weibull import Weibull
from ndgrad.distributions.wishart import Wishart

__all__ = [
    "AbsTransform", "AffineTransform", "Bernoulli", "Beta", "Binomial", "Categorical", "Cauchy",
    "Chi2", "ComposeTransform", "CumulativeDistributionTransform", "Dirichlet", "Distribution",
    "ExpRelaxedCategorical", "ExpTransform", "Exponential", "ExponentialFamily", "Gamma",
    "Geometric", "Gumbel", "Independent", "IndependentTransform", "Laplace", "LogNormal",
    "LogitRelaxedBernoulli", "LowerCholeskyTransform", "MultivariateNormal", "Normal",
    "OneHotCategorical", "OneHotCategoricalStraightThrough", "Poisson", "PowerTransform",
    "RelaxedBernoulli", "RelaxedOneHotCategorical", "ReshapeTransform", "SigmoidTransform",
    "SoftmaxTransform", "SoftplusTransform", "StickBreakingTransform", "StudentT", "TanhTransform",
    "Transform", "TransformedDistribution", "Uniform", "constraints", "identity_transform",
    "kl_divergence", "register_kl", "transforms", "biject_to", "transform_to",
    "HalfCauchy", "HalfNormal", "InverseGamma", "Kumaraswamy", "LogisticNormal",
    "MixtureSameFamily", "Multinomial", "NegativeBinomial", "Pareto", "Weibull",
    "CatTransform", "ContinuousBernoulli", "CorrCholeskyTransform", "FisherSnedecor",
    "GeneralizedPareto", "LowRankMultivariateNormal", "PositiveDefiniteTransform",
    "StackTransform", "VonMises", "LKJCholesky", "Wishart",
]

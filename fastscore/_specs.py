"""The kernels' contract, declared once: chunking, the moment-sum layout, and
each kernel family's named constants and capability slots.

This module is plain Python with no imports beyond the standard library.
setup.py reads it at build time to generate the Cython side: the enums of
constant offsets, the family table the templated loops iterate over, and
``_layout.h``, the C header naming the moment-sum layout.  The package reads
it at run time.  So neither side spells a number that the other one defines.

A family here is a *kernel* family: one draw routine with its constants.
A distribution class may use several of them.  For example, Bernoulli
uses ``bernoulli``, and Binomial(logits=...) uses ``binomial_logits``.
Adding a family takes a row here and its unit: ``fastscore/families/<unit>.pxi``
(its ``cdef inline`` functions, with ``<unit>.h`` for fused folds) and its class
(CONTRIBUTING.md).
"""

#: Samples per chunk.  Chunk c of batch element b is drawn from
#: numpy.random.Philox(key=key, counter=[0, 0, c, b]), so a result depends on
#: (key, n, CHUNK_SIZE) and never on the number of threads.
CHUNK_SIZE = 16384

# --------------------------------------------------------------------------
# Moment sums.  One row per batch element.  The head holds the sample count
# and the value part; one block follows per gradient component.
#
# Score-function block (per score component s), with d = f - shift:
#     sum s, sum s^2, sum d s, sum d s^2, sum d^2 s^2
# The shift is the first f value of the chunk the row started from.  Shifting
# f keeps every sum small whatever the offset of f, so f + 1e8 gives the same
# rloo and cv gradients as f.
# --------------------------------------------------------------------------
# Mean block (per gradient component whose estimate is the mean of one
# per-sample term t: pathwise f'(x) dx/dtheta, measure-valued differences),
# with its own shift (the first term of the row's first chunk):
#     term_shift, sum (t - term_shift), sum (t - term_shift)^2
# --------------------------------------------------------------------------
#
# Control-variate block (REBAR: per component the term A + eta C, with C of
# mean zero and eta chosen by the finish), A shifted by its first value:
#     a_shift, sum a, sum a^2, sum c, sum c^2, sum a c      (a = A - a_shift)
# --------------------------------------------------------------------------
# Cross-fitted score block (the score function's method="cv"): CV_FOLDS
# score rows side by side, row k holding the samples whose index in the
# batch element's stream (chunk * CHUNK_SIZE + i) is k mod CV_FOLDS.  Each
# is an ordinary score row (its own head and shift), merged as one.
# --------------------------------------------------------------------------
HEAD = ("n", "shift", "sum_d", "sum_dd")
SCORE_BLOCK = ("sum_s", "sum_ss", "sum_ds", "sum_dss", "sum_ddss")
MEAN_BLOCK = ("term_shift", "sum_t", "sum_tt")
CV_BLOCK = ("a_shift", "sum_a", "sum_aa", "sum_c", "sum_cc", "sum_ac")

#: Folds of the score function's cross-fitted ``cv`` method.  Fold k's
#: baseline (the ratio sum f s^2 / sum s^2) comes from the CV_REACH folds
#: after it, k + 1, ..., k + CV_REACH (mod CV_FOLDS), and never from fold k:
#: as 2 CV_REACH < CV_FOLDS, no two folds use each other, so every product
#: t_i t_l of two different samples' terms has expectation theta^2, the
#: estimate is unbiased and so is its plain sample-variance standard error.
#: Chosen by bench/calibration.py: at n >= 16 the variance on Normal f = x^2
#: is 0.90-0.93 of rloo's, 0.3-0.5 on Bernoulli tables; 9 folds gained < 1%.
CV_FOLDS = 7
CV_REACH = (CV_FOLDS - 1) // 2

#: The finishes' rescaling by powers of two (issue 24, item 2).  Where a
#: finish overflows on finite sums (|f| above ~1e154: shift^2 sum s^2, g^2),
#: it runs again on the row's sums scaled exactly by 2^-k per dimension (f's
#: k_f, each component's score k_s, or each mean block's term k_t: a sum of
#: d^a s^b by 2^-(a k_f + b k_s)), and scales its results back.  Each k takes
#: the dimension's magnitude down to at most 2^SCALE_TARGET, where every
#: product of the formulas (degree 4 at most) stays below 2^600.
SCALE_TARGET = 128

class KernelKind:
    """One estimator kind the kernels run: the facts its generated dispatch needs.

    Its step functions live in ``fastscore/kinds/<name>.pxi`` (``cdef inline``,
    named ``_<name>_<step>``: see ``KIND_STEPS``); the template includes that
    file and dispatches on ``FS_KIND_<NAME>`` to them.

    Parameters
    ----------
    block : tuple of str
        The block each gradient component's terms fold into.
    slot : str
        The family slot the kind needs: the name of the compiled set of
        families having it (``score``: SCORE_FAMILIES, ``measure``:
        MEASURE_POINTS, ...).
    grad : bool
        Does the kind evaluate f' (its entry points then need it)?
    """

    def __init__(self, block, slot, grad=False):
        self.block, self.slot, self.grad = block, slot, grad

    def __repr__(self):
        return "KernelKind(slot=%r, grad=%r)" % (self.slot, self.grad)


#: The estimator kinds the kernels run, one row each in kernel-id order
#: (fastscore._kinds has the Python objects), with the block each folds its
#: terms into.  "score_folds" is the score function with its rows kept per
#: fold (cv).
KIND_BLOCKS = {"score": KernelKind(SCORE_BLOCK, "score"),
               "pathwise": KernelKind(MEAN_BLOCK, "pathwise", grad=True),
               "measure": KernelKind(MEAN_BLOCK, "measure"),
               "rebar": KernelKind(CV_BLOCK, "rebar", grad=True),
               "score_folds": KernelKind(SCORE_BLOCK, "score")}
KERNEL_KINDS = tuple(KIND_BLOCKS)

#: The functions every kernel kind's step file (fastscore/kinds/<name>.pxi)
#: defines, as ``_<name>_<step>`` (``cdef inline ... noexcept nogil``, but
#: ``window_eval``, which calls f in Python): its row width,
#: merge of two rows, points and values per sample, scratch of an accumulate
#: step, numbers per sample its draw writes besides the points, the
#: draw-evaluate-accumulate step of one block (_inline_span), and a Python
#: f's window (run_python): its second buffer, draw, evaluation, fold.
KIND_STEPS = ("row_width", "merge", "n_points", "n_values", "scratch", "aux_width", "block",
              "window_t", "window_draw", "window_eval", "window_step")


#: The score-function kind's methods, by code: the finishes (_finish.pyx,
#: _onehot.h) switch on these codes, named FS_M_<METHOD> in _layout.h.
SCORE_METHODS = ("plain", "baseline", "rloo", "cv")


def row_width(n_components, block=SCORE_BLOCK, folds=1):
    """Numbers in one row of moment sums for ``n_components`` gradient components
    (``folds`` such rows side by side for the cross-fitted kind)."""
    return folds * (len(HEAD) + len(block) * n_components)


def layout_header():
    """The C header naming the layout (setup.py writes it as fastscore/_layout.h)."""
    lines = ["/* Generated from fastscore/_specs.py by setup.py: do not edit. */",
             "#ifndef FASTSCORE_LAYOUT_H", "#define FASTSCORE_LAYOUT_H",
             "#define FS_CHUNK_SIZE %d" % CHUNK_SIZE,
             "#define FS_CV_FOLDS %d" % CV_FOLDS, "#define FS_CV_REACH %d" % CV_REACH,
             "#define FS_SCALE_TARGET %d" % SCALE_TARGET]
    for names in (HEAD, SCORE_BLOCK, MEAN_BLOCK, CV_BLOCK, KERNEL_KINDS):
        kind = names is KERNEL_KINDS
        lines.append("enum { %s };" % ", ".join(
            "FS_%s%s = %d" % ("KIND_" if kind else "", nm.upper(), i)
            for i, nm in enumerate(names)))
    lines.append("enum { %s };" % ", ".join(
        "FS_M_%s = %d" % (nm.upper(), i) for i, nm in enumerate(SCORE_METHODS)))
    lines.append("enum { FS_HEAD_WIDTH = %d, FS_SCORE_WIDTH = %d, FS_MEAN_WIDTH = %d, "
                 "FS_CV_WIDTH = %d };" % (len(HEAD), len(SCORE_BLOCK), len(MEAN_BLOCK),
                                           len(CV_BLOCK)))
    lines.append("#endif")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Kernel families
# --------------------------------------------------------------------------
class Family:
    """One kernel family: a draw routine, its named constants, its capability slots.

    Parameters
    ----------
    name : str
        Kernel name.  Its ``cdef inline`` functions (in its unit's .pxi) are named
        after it: ``<name>_draw``, ``<name>_score`` and so on.
    consts : tuple of str
        The per-batch-element constants, in row order.  A plain name is one
        number.  ``"name[E]"`` holds one number per event coordinate,
        ``"name[E*E]"`` an E x E matrix, and ``"name[V]"`` the rest of the row
        (its length is the row's width, e.g. a categorical cdf).
    event : {"scalar", "vector"}
        A scalar family draws one number per sample.  A vector family draws
        an event of E numbers, with ``<name>_draw_event``.
    score : int, "event" or None
        The number of score components the kernel computes, "event" when the
        distribution sets it (vector families), None for families that are
        only counted.
    count : None, "draw" or "threshold"
        How a finite support is counted: by drawing and counting samples, or
        by comparing the stream's uniforms with thresholds (``<name>_count``).
    f_input : str or None
        A transform from what the block holds to what f sees (LogNormal keeps
        log x from the normal sampler, and f sees exp of it).  ``"draw"``:
        the draw writes what f sees itself (``<name>_draw`` takes a pointer
        to it; ``<name>_draw_event`` a second event), and the block holds
        only what the score needs.
    fill : bool
        Has ``<name>_fill``: a block of draws at once (the speculative block
        samplers of _samplers.h), the same draws as ``<name>_draw`` one by
        one; for a vector family ``<name>_fill_events(bg, c, E, x, stride,
        m)``, m events at x + i * stride.
    score_block : bool
        A vector family with ``<name>_score_block(c, E, x, xstride, m,
        terms)``: the score components of m events at once, component-major
        (terms[j * BLOCK + i]), each event's arithmetic that of
        ``<name>_score_event``, so that the loops over samples vectorise.
    score_fold : bool
        A scalar family with ``<name>_score_fold(c, x, fx, shift, m, row)``:
        the score-function step of a block of m contiguous samples fused
        into one pass (d = f - shift, the score, the folds of _reduce.h;
        _foldsteps.h), with the bits of those steps taken one by one.
    pathwise : bool
        Has ``<name>_pathwise`` (``_pathwise_event`` for vector families): the
        terms f'(x) dx/dtheta_j of the pathwise estimator, from the sample x.
    pathwise_fold : bool
        A scalar pathwise family with ``<name>_pathwise_fold(c, x, fx, gp,
        shift, m, row)``: the pathwise step of a block fused into one pass
        (as score_fold, with the folds of the terms about their shifts).
    pathwise_block : bool
        A vector pathwise family with ``<name>_pathwise_block(c, E, x,
        xstride, gp, gstride, m, terms, s, w)``: the pathwise terms of m
        events at once, component-major (as score_block), each event's
        arithmetic that of ``<name>_pathwise_event`` (s, w: its scratch).
    measure : int
        For the measure-valued estimator, the points drawn per sample by
        ``<name>_measure_draw``: the sample itself, then for each gradient
        component its coupled positive and negative points (1 + 2P); 0 when
        the family has no weak derivatives in the kernels.
    measure_weights : bool
        The measure draw also writes one weight per component after the
        points, multiplying f(x+) - f(x-) (ARM and DisARM, whose terms are
        weighted differences of antithetic evaluations).
    rebar : bool
        Has ``<name>_rebar_draw`` and ``<name>_rebar_terms``: the REBAR
        estimator's draws (the hard sample, relaxed and conditional relaxed
        points) and its per-sample terms A and C.
    components : int, optional
        Gradient components of a scalar family without a score slot.
    unit : str, optional
        The distribution's unit that holds this kernel family's code
        (default: its name): ``fastscore/families/<unit>.pxi`` (its ``cdef
        inline`` functions; the build includes each unit once, in the order
        of first appearance here), with ``<unit>.h`` where the family has
        fused folds, and the class in ``fastscore/families/<unit>.py``.
        Variants of a distribution share its unit (``lognormal_y``:
        ``"lognormal"``).
    """

    def __init__(self, name, consts, event="scalar", score=None, count=None, f_input=None,
                 fill=False, score_block=False, score_fold=False, pathwise=False, pathwise_fold=False,
                 pathwise_block=False, measure=0,
                 measure_weights=False, rebar=False, components=None, unit=None):
        if event not in ("scalar", "vector"):
            raise ValueError("event must be 'scalar' or 'vector'")
        self.name = name
        self.unit = unit or name
        self.consts = tuple(consts)
        self.event = event
        self.score = score
        self.count = count
        self.f_input = f_input
        self.fill = bool(fill)
        self.score_block = bool(score_block)
        if self.score_block and event != "vector":
            raise ValueError("score_block is a slot of vector families")
        self.score_fold = bool(score_fold)
        if self.score_fold and (event != "scalar" or score is None):
            raise ValueError("score_fold is a slot of scored scalar families")
        self.pathwise = bool(pathwise)
        self.pathwise_fold = bool(pathwise_fold)
        if self.pathwise_fold and not (self.pathwise and event == "scalar"):
            raise ValueError("pathwise_fold is a slot of scalar pathwise families")
        self.pathwise_block = bool(pathwise_block)
        if self.pathwise_block and not (self.pathwise and event == "vector"):
            raise ValueError("pathwise_block is a slot of vector pathwise families")
        self.measure = int(measure)
        self.measure_weights = bool(measure_weights)
        self.rebar = bool(rebar)
        #: gradient components of a scalar family (its score's, unless it has none)
        self.components = components if components is not None else score
        self.id = None  # set by the table below
        self._offsets = {}  # (E, V) -> offsets, computed once
        self.row_sized = any(c.endswith("[V]") for c in self.consts)

    @property
    def slots(self):
        """Capabilities that estimator kinds ask for ("score", "count", ...)."""
        out = set()
        if self.score is not None:
            out.add("score")
        if self.count is not None:
            out.add("count")
        if self.pathwise:
            out.add("pathwise")
        if self.measure:
            out.add("measure")
        if self.rebar:
            out.add("rebar")
        return frozenset(out)

    @property
    def measure_values(self):
        """Numbers the measure draw writes per sample: its points, then any weights."""
        return self.measure + (self.measure - 1) // 2 * self.measure_weights

    def const_fields(self):
        """[(name, size)] with size 1, "E", "E*E" or "V"."""
        out = []
        for c in self.consts:
            if "[" in c:
                nm, size = c[:-1].split("[")
                out.append((nm, size))
            else:
                out.append((c, 1))
        return out

    def offsets(self, E, V=0):
        """({name: (start, stop, scalar)}, row width) for a row of event size E.

        ``V`` is the width of a "[V]" constant; scalar is True for one number.
        """
        key = (E, V if self.row_sized else 0)
        found = self._offsets.get(key)
        if found is None:
            sizes = {1: 1, "E": E, "E*E": E * E, "V": V}
            out, o = {}, 0
            for nm, size in self.const_fields():
                out[nm] = (o, o + sizes[size], size == 1)
                o += sizes[size]
            found = self._offsets[key] = (out, o)
        return found

    def offset_exprs(self):
        """[(NAME, C expression of its offset)] for the generated Cython.

        An offset past an event-sized constant is an expression in E (the
        generated Cython makes it a function of E); the others are numbers.
        """
        out, fixed, terms = [], 0, []
        for nm, size in self.const_fields():
            expr = " + ".join(terms + ([str(fixed)] if fixed or not terms else []))
            out.append((("%s_%s" % (self.name, nm)).upper(), expr))
            if size == 1:
                fixed += 1
            else:
                terms.append({"E": "E", "E*E": "E * E", "V": "0"}[size])
        return out

    def __repr__(self):
        return "Family(%r)" % self.name


# The order is the kernel ids.  Constants are those the family classes compute
# once per batch element (reciprocals, digamma terms), named for what they are.
FAMILIES = (
    Family("normal", ("loc", "scale", "inv_scale"), score=2, fill=True, score_fold=True,
           pathwise=True, pathwise_fold=True, measure=5),
    Family("bernoulli", ("probs",), count="threshold"),
    Family("categorical", ("cdf[V]",), count="threshold"),
    Family("poisson", ("rate", "inv_rate"), score=1, measure=3, fill=True, score_fold=True),
    Family("lognormal", ("loc", "scale", "inv_scale"), score=2, fill=True, pathwise=True,
           measure=5),
    # LogNormal for inline f: the block holds y = log x from the normal sampler
    # (exp(y) is numpy's random_lognormal exactly); the score needs no log.
    Family("lognormal_y", ("loc", "scale", "inv_scale"), score=2, f_input="exp",
           score_fold=True, pathwise=True, pathwise_fold=True, fill=True, unit="lognormal"),
    Family("exponential", ("scale",), score=1, pathwise=True, measure=3, fill=True,
           score_fold=True, pathwise_fold=True),
    Family("gamma", ("concentration", "scale", "log_rate_minus_digamma", "mean", "rate"),
           score=2, pathwise=True, measure=5, fill=True, score_fold=True),
    Family("beta", ("concentration1", "concentration0", "digamma_sum_minus_digamma1",
                    "digamma_sum_minus_digamma0"), score=2, pathwise=True, fill=True),
    Family("chi2", ("df", "log2_plus_digamma_half_df"), score=1, pathwise=True, fill=True,
           score_fold=True),
    Family("vonmises", ("loc", "concentration", "bessel_ratio"), score=2, pathwise=True),
    Family("binomial_probs", ("probs", "total_count", "q", "inv_p", "inv_q"), score=1,
           count="draw", measure=3, unit="binomial"),
    Family("binomial_logits", ("probs", "total_count", "q", "inv_p", "inv_q"), score=1,
           count="draw", measure=3, unit="binomial"),
    Family("geometric_probs", ("probs", "q", "inv_p", "inv_q"), score=1, measure=3, fill=True,
           score_fold=True, unit="geometric"),
    Family("geometric_logits", ("probs", "q", "inv_p", "inv_q"), score=1, measure=3, fill=True,
           score_fold=True, unit="geometric"),
    Family("negbin_probs", ("total_count", "probs", "q", "inv_p", "r_over_q"), score=1,
           measure=3, fill=True, unit="negative_binomial"),
    Family("negbin_logits", ("total_count", "probs", "q", "inv_p", "r_over_q"), score=1,
           measure=3, fill=True, unit="negative_binomial"),
    Family("dirichlet", ("concentration[E]", "digamma_sum_minus_digamma[E]",
                         "tail_concentration[E]"), event="vector", score="event", fill=True,
           score_block=True, pathwise=True),
    Family("mvn", ("loc[E]", "scale_tril[E*E]", "inv_diag[E]"), event="vector",
           score="event", fill=True, score_block=True, pathwise=True, pathwise_block=True,
           unit="multivariate_normal"),
    # Bernoulli's antithetic estimators: points (sample, x+, x-) and a weight
    # (ARM: u - 1/2; DisARM: (-1)^b~ [b != b~] sigma(|logits|) / 2).
    Family("bernoulli_arm", ("probs", "q"), measure=3, measure_weights=True, unit="bernoulli"),
    Family("bernoulli_disarm", ("probs", "q", "half_max_pq"), measure=3, measure_weights=True,
           unit="bernoulli"),
    # Concrete (Gumbel-softmax) relaxations.  param_scale turns logits
    # derivatives into the derivatives of the parameter passed (1 for logits);
    # the _st variants give f the hard sample (straight-through).
    Family("relaxed_bernoulli", ("logits", "probs", "q", "temperature", "inv_temperature",
                                 "param_scale"), score=1, pathwise=True, rebar=True),
    Family("relaxed_bernoulli_st", ("logits", "probs", "q", "temperature", "inv_temperature",
                                    "param_scale"), pathwise=True, f_input="hard", components=1,
           unit="relaxed_bernoulli"),
    Family("relaxed_categorical", ("temperature", "inv_temperature", "logits[E]",
                                   "log_probs[E]", "probs[E]", "param_scale[E]"),
           event="vector", score="event", pathwise=True, rebar=True),
    Family("relaxed_categorical_st", ("temperature", "inv_temperature", "logits[E]",
                                      "log_probs[E]", "probs[E]", "param_scale[E]"),
           event="vector", pathwise=True, f_input="hard", unit="relaxed_categorical"),
    # The score function's families for concentrations below 1, where samples
    # underflow to 0 although log x is an ordinary number: the same samples
    # for f, and in the block the sample where it is a normal double (the
    # score then rounds as the plain family's), else log x (Beta: log-odds).
    Family("gamma_log", ("concentration", "scale", "log_rate_minus_digamma", "mean", "rate"),
           score=2, f_input="draw", unit="gamma"),
    Family("beta_log", ("concentration1", "concentration0", "digamma_sum_minus_digamma1",
                        "digamma_sum_minus_digamma0"), score=2, f_input="draw", unit="beta"),
    Family("chi2_log", ("df", "log2_plus_digamma_half_df"), score=1, f_input="draw", unit="chi2"),
    Family("dirichlet_log", ("concentration[E]", "digamma_sum_minus_digamma[E]",
                             "tail_concentration[E]"), event="vector", score="event",
           f_input="draw", unit="dirichlet"),
    Family("laplace", ("loc", "scale", "inv_scale"), score=2, fill=True, score_fold=True,
           pathwise=True, pathwise_fold=True),
)
#: The most points any family's measure-valued draw writes per sample.
MAX_MEASURE_POINTS = 8
for _i, _fam in enumerate(FAMILIES):
    _fam.id = _i
BY_NAME = {fam.name: fam for fam in FAMILIES}
assert max(fam.measure for fam in FAMILIES) <= MAX_MEASURE_POINTS

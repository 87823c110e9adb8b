"""`keras-procrustes-train` (or `python -m keras_procrustes.train`).

The paper's recipe (SPEC section 6) by default: SGD with momentum 0.9, lr 0.1
divided by 10 at 50% and 75% of the epochs, batch 128, weight decay 1e-4,
flip/pad/crop augmentation, projection probability 0.5, on every visible GPU.
`--batch-size` is per replica; the global batch and the learning rate scale
with the replica count. With `--coordinator HOST:PORT --num-processes N
--process-id I` (or the KERAS_DISTRIBUTION_* variables) on JAX, N processes
train as one job over all their devices. See `keras_procrustes.training.fit`.
"""

import sys

from keras_procrustes.cli import common


def build_parser():
    """The command-line parser.

    Returns:
        A `common.Parser`.
    """
    parser = common.Parser(
        prog="keras-procrustes-train",
        description="Train a Procrustes ResNet (or its baseline) on CIFAR or "
        "Fashion-MNIST, with TensorBoard logs.",
    )
    add = parser.add_argument
    add("--model", default="procresnet166",
        help="a preset (procresnet166, resnet164_baseline, procresnet58, "
        "resnet56_baseline, ...: models.list_models()), or any depth with its block "
        "type (procresnet13_bottleneck, resnet38_basic_baseline)")
    common.add_data_arguments(parser)
    add("--epochs", type=int, default=300, help="the lr schedule scales to it")
    add("--batch-size", type=int, default=128, help="per replica")
    add("--lr", type=float, default=0.1, help="for one replica")
    add("--momentum", type=float, default=0.9)
    add("--weight-decay", type=float, default=1e-4, help="L2 coefficient")
    add("--projection-probability", type=float, default=0.5)
    add("--projection-engine", default="svd", help="svd or newton_schulz")
    add("--log-dir", default=None, help="the run's folder; default runs/MODEL-DATASET")
    add("--existing", default="resume",
        help="when --log-dir holds a run: resume (an unfinished one; default), new "
        "(a numbered run beside it: LOG_DIR-2, ...) or refuse")
    add("--grad-norm-every", type=int, default=0,
        help="log the per-block gradient norm ratios to TensorBoard every N epochs")
    add("--grad-norm-examples", type=int, default=32, help="probe batch (test split)")
    add("--mixed-precision", default="none", help="none, float16 or bfloat16")
    add("--jit-compile", default="auto", help="auto, true or false")
    add("--remat", action="store_true",
        help="recompute residual blocks in the backward pass (less memory)")
    add("--no-backup", action="store_true", help="no per-epoch backup (no resume)")
    job = parser.add_argument_group(
        "several processes (JAX: keras.distribution over jax.distributed; every option "
        "defaults to its KERAS_DISTRIBUTION_* environment variable)")
    job.add_argument("--coordinator", default=None,
                     help="HOST:PORT of process 0 (KERAS_DISTRIBUTION_JOB_ADDRESSES)")
    job.add_argument("--num-processes", type=int, default=None,
                     help="processes in the job (KERAS_DISTRIBUTION_NUM_PROCESSES)")
    job.add_argument("--process-id", type=int, default=None,
                     help="this process, 0 to N-1; 0 writes the run folder "
                     "(KERAS_DISTRIBUTION_PROCESS_ID)")
    return parser


def run(args):
    """Trains as the parsed options say; returns the metrics."""
    from keras_procrustes.training import fit

    options = common.data_options(args)
    dataset = options.pop("dataset")
    return fit(
        args.model, dataset, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        momentum=args.momentum, weight_decay=args.weight_decay,
        projection_probability=args.projection_probability,
        projection_engine=args.projection_engine, log_dir=args.log_dir,
        existing=args.existing, grad_norm_every=args.grad_norm_every,
        grad_norm_examples=args.grad_norm_examples, mixed_precision=args.mixed_precision,
        jit_compile=args.jit_compile, remat=args.remat, backup=not args.no_backup,
        coordinator=args.coordinator, num_processes=args.num_processes,
        process_id=args.process_id, **options)


def main(argv=None):
    """Entry point of the command.

    Args:
        argv: arguments, default `sys.argv[1:]`.

    Returns:
        The exit code.
    """
    return common.run_command(build_parser(), run, argv)


def main_script():
    """The console script: exits with `main()`'s code."""
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())

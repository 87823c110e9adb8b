"""The run folder's state: backups, the best model, marked folders, data order."""

import json
import os

import keras
import numpy as np
import pytest

from keras_procrustes import data
from keras_procrustes.training import errors
from keras_procrustes.training import stops
from keras_procrustes.training.callbacks import best_model_checkpoint
from keras_procrustes.training.callbacks import nan_guard
from keras_procrustes.training.callbacks import run_backup
from keras_procrustes.training.errors import OptionError
from keras_procrustes.training.run import backup as backups
from keras_procrustes.training.run import folder as run_folder
from keras_procrustes.training.run import history
from keras_procrustes.training.run import manifest as run_manifest
from keras_procrustes.training.run import names as run_names
from keras_procrustes.training.search import driver as search_driver


def _model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy")
    return model


def _backed_up(folder, epochs):
    model = _model()
    x, y = np.ones((8, 4), "float32"), np.zeros(8, "int32")
    model.fit(x, y, epochs=epochs, verbose=0, callbacks=[run_backup.RunBackup(str(folder))])
    return model


def test_backup_round_trip_and_cleanup_keeps_foreign_files(tmp_path):
    folder = tmp_path / "backup"
    model = _backed_up(folder, 3)
    assert sorted(os.listdir(folder)) == ["backup.json", "epoch-0003.weights.h5"]
    epoch, weights = backups.read_backup(str(folder))
    assert epoch == 3
    restored = _model()
    backups.restore(restored, weights)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored.layers[0].kernel),
                                  keras.ops.convert_to_numpy(model.layers[0].kernel))
    assert int(keras.ops.convert_to_numpy(restored.optimizer.iterations)) == 3
    (folder / "notes.txt").write_text("a user's file")
    backups.remove_backup(str(folder))
    assert os.listdir(folder) == ["notes.txt"]


@pytest.mark.parametrize("damage, message", [
    ("weights_missing", "is missing"),
    ("weights_truncated", "is corrupt"),
    ("metadata_truncated", "can't be read"),
    ("metadata_only_weights", "no backup.json"),
])
def test_unusable_backup_is_refused_not_ignored(tmp_path, damage, message):
    folder = tmp_path / "backup"
    _backed_up(folder, 2)
    weights, metadata = folder / "epoch-0002.weights.h5", folder / "backup.json"
    if damage == "weights_missing":
        weights.unlink()
    elif damage == "weights_truncated":
        weights.write_bytes(weights.read_bytes()[:300])
    elif damage == "metadata_truncated":
        metadata.write_text('{"epoch": 2, "wei')
    else:
        metadata.unlink()
    with pytest.raises(errors.RunStateError, match=message):
        backups.read_backup(str(folder))


def test_weights_of_another_model_are_refused(tmp_path):
    _backed_up(tmp_path / "backup", 1)
    _, weights = backups.read_backup(str(tmp_path / "backup"))
    other = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    other.compile("sgd", "mse")
    with pytest.raises(errors.RunStateError, match="does not fit this model"):
        backups.restore(other, weights)


def test_best_checkpoint_remembers_the_best_of_a_resumed_run(tmp_path):
    model = _model()
    record = {"epoch": 2, "val_accuracy": 0.9, "test_error": 0.1}
    (tmp_path / "best.keras").write_bytes(b"the epoch-2 model")
    checkpoint = best_model_checkpoint.BestModelCheckpoint(str(tmp_path), best=record)
    checkpoint.set_model(model)
    checkpoint.on_epoch_end(2, {"val_accuracy": 0.5})  # worse: keep epoch 2's model
    assert (tmp_path / "best.keras").read_bytes() == b"the epoch-2 model"
    checkpoint.on_epoch_end(3, {"val_accuracy": 0.95})
    assert keras.models.load_model(tmp_path / "best.keras").output_shape == (None, 2)
    assert backups.read_best(str(tmp_path)) == {
        "epoch": 4, "val_accuracy": 0.95, "test_error": pytest.approx(0.05)}


def test_overwrite_clears_only_the_search_files(tmp_path):
    project = tmp_path / "p"
    (project / "trial_00").mkdir(parents=True)
    for name in ("oracle.json", "tuner0.json", run_names.SEARCH_MARKER, "best.keras", "mine.txt"):
        (project / name).write_text("x")
    (project / "my_data").mkdir()
    search_driver.clear_project(str(project))
    assert sorted(os.listdir(project)) == ["mine.txt", "my_data"]


def _stream(first_epoch, seed=0):
    images = np.arange(10 * 8 * 8, dtype="uint8").reshape(10, 8, 8, 1)
    labels = np.arange(10)
    stream = data.train_dataset(images, labels, 5, epochs=3, first_epoch=first_epoch, seed=seed)
    return [(np.asarray(x), np.asarray(y)) for x, y in stream]


def test_training_order_is_a_function_of_seed_and_epoch():
    full, resumed = _stream(0), _stream(1)
    assert len(full) == 6 and len(resumed) == 4
    for (x_full, y_full), (x_resumed, y_resumed) in zip(full[2:], resumed):
        np.testing.assert_array_equal(y_full, y_resumed)  # epoch 2 as in a full run
        np.testing.assert_array_equal(x_full, x_resumed)  # and the same augmentation
    orders = [np.concatenate([y for _, y in full[2 * e: 2 * e + 2]]) for e in range(3)]
    assert all(sorted(order) == list(range(10)) for order in orders)
    assert not np.array_equal(orders[0], orders[1])  # reshuffled every epoch
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(_stream(0, seed=1), full))


def test_eval_pads_to_the_replica_count_with_weight_zero():
    images = np.zeros((97, 8, 8, 1), "uint8")
    batches = list(data.eval_dataset(images, np.ones(97), 96, pad_to_multiple=3))
    assert [len(b[0]) for b in batches] == [96, 3]  # no replica gets an empty batch
    weights = np.concatenate([np.asarray(b[2]) for b in batches])
    assert weights.sum() == 97 and weights[-2:].tolist() == [0, 0]
    assert len(list(data.eval_dataset(images, np.ones(97), 96))[0]) == 2  # no padding: (x, y)


def test_process_shards_make_up_every_global_batch():
    images = np.arange(100 * 4 * 4, dtype="uint8").reshape(100, 4, 4, 1)
    labels = np.arange(100)

    def labels_of(stream):
        return [np.asarray(batch[1]) for batch in stream]

    full = labels_of(data.train_dataset(images, labels, 32, 2, drop_remainder=True))
    shards = [labels_of(data.train_dataset(images, labels, 32, 2, drop_remainder=True,
                                           shard=(index, 2))) for index in (0, 1)]
    assert len(full) == 6 and all(len(batch) == 16 for batch in shards[1])
    for whole, first, second in zip(full, *shards):
        np.testing.assert_array_equal(whole, np.concatenate([first, second]))
    full = labels_of(data.eval_dataset(images, labels, 32, pad_to_multiple=4))
    shards = [labels_of(data.eval_dataset(images, labels, 32, pad_to_multiple=4,
                                          shard=(index, 2))) for index in (0, 1)]
    assert [len(b) for b in full] == [32, 32, 32, 4] and [len(b) for b in shards[0]] == [16] * 3 + [2]
    for whole, first, second in zip(full, *shards):
        np.testing.assert_array_equal(whole, np.concatenate([first, second]))
    with pytest.raises(ValueError, match="drop_remainder"):
        data.train_dataset(images, labels, 32, 1, shard=(0, 2))


def _old_run(folder, model):
    """A run folder as the old names left it: an old model name, one epoch backed up."""
    _backed_up(folder / "backup", 1)
    (folder / run_names.HISTORY).write_text("epoch,accuracy,loss,val_accuracy,val_loss\n"
                                         "0,0.5,1.0,0.5,1.0\n")
    manifest = {"status": "running", "options": {"model": model, "dataset": "cifar10"}}
    (folder / run_names.MANIFEST).write_text(json.dumps(manifest))


def test_an_old_run_folder_resumes_under_its_new_model_name(tmp_path):
    _old_run(tmp_path, "resnet164")  # old name of He et al.'s ResNet-164
    options = {"model": "resnet164_baseline", "dataset": "cifar10"}
    run = run_folder.plan(str(tmp_path), "resume", options, "resnet164_baseline")
    assert run.first_epoch == 1 and run.weights_path.endswith("epoch-0001.weights.h5")
    with pytest.raises(OptionError, match=(
            "model='resnet164': means 'procresnet166' now; the unfinished run in .* is "
            r"'resnet164_baseline' \(recorded as 'resnet164', an old name\): rerun with "
            "--model resnet164_baseline")):
        run_folder.plan(str(tmp_path), "resume", {"model": "procresnet166", "dataset": "cifar10"},
                    "resnet164")
    run_manifest.claim(run, options, {})  # resuming rewrites the manifest in the new names
    manifest = json.loads((tmp_path / run_names.MANIFEST).read_text())
    assert manifest["model_names"] == run_manifest.MODEL_NAMES and manifest["options"] == options
    assert run_folder.plan(str(tmp_path), "resume", options).first_epoch == 1


def test_an_old_name_that_no_longer_parses_resumes_under_its_spelling(tmp_path):
    _old_run(tmp_path, "procresnet13")  # old name: bottleneck, one block a stage
    options = {"model": "procresnet13_bottleneck", "dataset": "cifar10"}
    assert run_folder.plan(str(tmp_path), "resume", options).first_epoch == 1


def _resumable(folder, epochs, history):
    """A run folder killed after `epochs` epochs, its history.csv as given (`None`: none)."""
    _backed_up(folder / "backup", epochs)
    manifest = {"status": "running", "model_names": run_manifest.MODEL_NAMES,
                "options": {"model": "procresnet13_bottleneck"}}
    (folder / run_names.MANIFEST).write_text(json.dumps(manifest))
    if history is not None:
        (folder / run_names.HISTORY).write_text(history)


HEADER = "epoch,accuracy,loss,val_accuracy,val_loss\n"


@pytest.mark.parametrize("history, said", [
    (None, r"history.csv of its 2 finished epoch\(s\) is missing"),
    (HEADER + "0,0.5,1.0,0.5,1.0\n", r"has no row of epoch\(s\) 2"),
    (HEADER + "0,0.5,1.0,0.5,1.0\n" + HEADER + "1,0.6,0.9,0.6,0.9\n", "is damaged"),  # two writers
    (HEADER + "0,0.5,1.0,0.5,1.0\n1,0.6,0.9\n", "is damaged"),  # a torn row
    ("garbage\x00\n", "is damaged"),
])
def test_a_resume_with_a_missing_short_or_damaged_history_is_refused(tmp_path, capsys, history,
                                                                     said):
    from keras_procrustes.cli import train as train_command

    _resumable(tmp_path, 2, history)
    with pytest.raises(errors.RunStateError, match=said):
        run_folder.plan(str(tmp_path), "resume", {"model": "procresnet13_bottleneck"})
    with pytest.raises(SystemExit) as exit_info:
        train_command.main(["--model", "procresnet13_bottleneck", "--log-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"can't resume the run in {tmp_path}" in err and "Traceback" not in err


def test_a_resume_trims_the_history_to_the_epochs_of_its_backup(tmp_path):
    rows = "".join(f"{e},0.5,1.0,0.{e + 1},1.0\n" for e in range(3))
    _resumable(tmp_path, 2, HEADER + rows)
    run = run_folder.plan(str(tmp_path), "resume", {"model": "procresnet13_bottleneck"})
    assert run.first_epoch == 2
    run_manifest.claim(run, {"model": "procresnet13_bottleneck"}, {})
    assert [row["val_accuracy"] for row in history.read_history(str(tmp_path))] == ["0.1", "0.2"]


def test_ctrl_c_leaves_the_run_interrupted_and_a_rerun_resumes_it(tmp_path):
    _resumable(tmp_path, 1, HEADER + "0,0.5,1.0,0.5,1.0\n")
    guard = nan_guard.NaNGuard(str(tmp_path / "backup"))
    guard.epoch = 1  # Ctrl-C in epoch 2
    run = run_folder.plan(str(tmp_path), "resume", {"model": "procresnet13_bottleneck"})
    with pytest.raises(errors.RunInterrupted, match="interrupted in epoch 2 of 3"):
        with stops.explained(run, 3, guard):
            raise KeyboardInterrupt
    assert run_manifest.read_manifest(str(tmp_path))["status"] == "interrupted"
    again = run_folder.plan(str(tmp_path), "resume", {"model": "procresnet13_bottleneck"})
    assert again.first_epoch == 1
    run_manifest.claim(again, {"model": "procresnet13_bottleneck"}, {})
    assert run_manifest.read_manifest(str(tmp_path))["status"] == "running"

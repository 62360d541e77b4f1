"""metrics.race with Keras 2 (tf_keras) models and TFLite (imports TensorFlow only, never torch)."""
from __future__ import annotations

import warnings

import pytest

import course_utils  # noqa: F401  (sets TF_USE_LEGACY_KERAS=1 before TensorFlow is imported)
from course_utils import metrics, timing
from course_utils.env import load_tensorflow

tf, keras = load_tensorflow()
L = keras.layers


def tower(layers: int, width: int = 512) -> keras.Model:
    """``layers`` Dense(width) layers: the work grows linearly with ``layers``."""
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((width,)), *[L.Dense(width, activation="relu") for _ in range(layers)]])


@pytest.fixture(scope="module")
def towers():
    return tower(1), tower(4)


def test_race_keras_measures_four_times_the_work_as_slower(towers):
    one, four = towers
    race = metrics.race({"one": one, "four": four}, (512,), 128, rounds=5, repeats=5, warmup=2)
    assert race.names == ["one", "four"] and race["four"].framework == "keras" and race["four"].repeats == 25
    assert race.ratio("four") > 1.5 and race.speedup("four") < 1 / 1.5
    assert "time / one (paired)" in race.to_markdown()


def test_race_mixes_keras_and_tflite(towers):
    one, four = towers
    tfl_one, tfl_four = metrics.tflite_bytes(one), metrics.tflite_bytes(four)
    race = metrics.race({"keras": one, "tflite": tfl_one, "tflite x4": tfl_four}, (512,), 16, rounds=3, repeats=3,
                        warmup=1)
    assert race["keras"].framework == "keras" and race["tflite"].framework == "tflite"
    assert race["tflite"].threads >= 1
    assert race.ratio("tflite x4", reference="tflite") > 1.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TF 2.21: tf.lite.Interpreter is deprecated in favour of ai_edge_litert
        interp = tf.lite.Interpreter(model_content=tfl_one)
    race2 = metrics.race({"interpreter": interp}, (512,), 4, rounds=2, repeats=2, warmup=0)
    assert race2["interpreter"].framework == "tflite" and race2.median_s("interpreter") > 0
    with pytest.raises(ValueError, match="does not match the TFLite model's input"):
        metrics.race({"tflite": tfl_one}, (28, 28), 4, rounds=1, repeats=1)


def test_latency_and_tflite_latency_still_work(towers):
    one, _ = towers
    r = metrics.latency(one, (512,), 8, repeats=3, warmup=1)
    assert isinstance(r, timing.LatencyResult) and r.repeats == 3 and r.framework == "keras"
    t = metrics.tflite_latency(metrics.tflite_bytes(one), (512,), 8, repeats=3, warmup=1, threads=1)
    assert t.repeats == 3 and t.framework == "tflite" and t.threads == 1

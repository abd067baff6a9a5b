# flask_app.py — the peer of `tide serve` in bench/serve/run.sh: a Flask app
# doing the same predict/label loop with scikit-learn (SGDClassifier with
# log loss, partial_fit one label at a time; FeatureHasher for the 25 named
# features). /predict scores one row; /learn scores then learns one labelled
# row (the progressive loop; each gunicorn worker has its own model, and
# nothing is made durable, which only flatters this peer). The model is
# fitted on two rows at start-up so that /predict really scores from the
# first request (an unfitted model answering a constant would flatter it).
# Run: gunicorn -w 2 -b 127.0.0.1:PORT flask_app:app
from flask import Flask, request, jsonify
from sklearn.feature_extraction import FeatureHasher
from sklearn.linear_model import SGDClassifier
import numpy as np
import uuid

app = Flask(__name__)
hasher = FeatureHasher(n_features=2**18, input_type="dict")
model = SGDClassifier(loss="log_loss")
events = {}
model.partial_fit(hasher.transform([{"f0": 0.0}, {"f0": 1.0}]), [0, 1], classes=[0, 1])


def vec(features):
    d = {}
    for k, v in features.items():
        if isinstance(v, str):
            d[k + "=" + v] = 1.0
        else:
            d[k] = float(v)
    return hasher.transform([d])


@app.post("/v1/models/bench/predict")
def predict():
    body = request.get_json()
    x = vec(body["features"])
    eid = body.get("id") or uuid.uuid4().hex
    events[eid] = x
    p = model.predict_proba(x)[0]
    return jsonify(id=eid, prediction=str(int(p[1] > p[0])),
                   proba={"0": float(p[0]), "1": float(p[1])}, version=0)


@app.post("/v1/models/bench/learn")
def learn():
    """The progressive loop in one request: score, then learn (as tide's /learn)."""
    body = request.get_json()
    x = vec(body["features"])
    p = model.predict_proba(x)[0]
    model.partial_fit(x, [int(body["label"])], classes=[0, 1])
    return jsonify(id=uuid.uuid4().hex, seq=0, proba=float(p[1]))

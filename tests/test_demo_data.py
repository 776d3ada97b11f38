"""The demo's own sample: deterministic, unique, in the input format extraction reads."""
from nag_spark.demo_data import make_demo_frames, write_demo_sample


def test_sample_is_deterministic_and_well_formed(tmp_path):
    pool, targets = make_demo_frames()
    pool2, targets2 = make_demo_frames()
    assert pool.equals(pool2) and targets.equals(targets2)
    for df in (pool, targets):
        assert list(df.columns) == ["docid", "doc", "dataset", "token_num"]
        assert df["docid"].is_unique
        assert (df["token_num"] == df["doc"].str.split().str.len()).all()
    assert pool["doc"].is_unique
    assert set(targets["dataset"]) == {"hellaswag_train", "arc_c_train"}
    assert pool["dataset"].nunique() == 6
    pool_path, targets_path = write_demo_sample(tmp_path)
    assert pool_path.is_file() and targets_path.is_file()

"""The collector pause around reading and analysis restores what it found."""


def test_gc_pause_restores_the_collector_state():
    import gc

    from kubeiam.pipeline.gcpause import gc_paused

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # someone else's choice is kept
    finally:
        gc.enable()

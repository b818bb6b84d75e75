"""Each built-in rule fires on a crafted sequence and stays quiet on normal traffic."""

from __future__ import annotations

from indunet.security.detect import Baseline, Context

from .helpers import engine, ev, fired, lists, tx

MASTERS = lists(allowed_masters=["10.0.0.5", "10.0.5.0/24"])


def normal_traffic() -> list:
    """An HMI polling PLCs and writing setpoints, as every day."""
    out = []
    for i in range(200):
        out.append(
            tx(
                "modbus",
                "read_holding_registers",
                3,
                ts=i,
                src="10.0.0.5",
                dst=f"10.0.1.{i % 4 + 1}",
            )
        )
        if i % 20 == 0:
            out.append(
                tx(
                    "modbus",
                    "write_single_register",
                    6,
                    ts=i,
                    src="10.0.0.5",
                    write=True,
                    values=[42],
                )
            )
        out.append(tx("s7comm", "read_var", 4, ts=i, src="10.0.5.7", dst="10.0.2.1", port=102))
    out += [
        ev("auth.failure", ts=i * 100, src_ip="10.0.0.8", fields={"target": "console"})
        for i in range(5)
    ]
    out += [
        ev(
            "ids.resolve",
            ts=i,
            src_ip="10.0.0.8",
            outcome="success",
            fields={"handle": f"86.1/{i % 10}"},
        )
        for i in range(100)
    ]
    return out


def test_normal_traffic_raises_nothing() -> None:
    ctx = Context(lists=MASTERS | lists(modbus_functions=[3, 6], s7comm_functions=[4]))
    eng, _ = engine(ctx)
    assert fired(eng.process(normal_traffic())) == []
    assert all(s.errors == 0 for s in eng.stats.values())


def test_write_from_a_host_that_is_not_a_master() -> None:
    eng, _ = engine(Context(lists=MASTERS))
    for n, (proto, action, fc) in enumerate(
        [
            ("modbus", "write_multiple_registers", 16),
            ("s7comm", "write_var", 5),
            ("enip", "set_attribute_single", 0x10),
            ("dnp3", "direct_operate", 5),
            ("opcua", "WriteRequest", 673),
        ]
    ):
        alerts = eng.process([tx(proto, action, fc, src="10.9.9.9", dst=f"10.0.3.{n}", write=True)])
        assert fired(alerts) == ["ot.write.unauthorized-master"], proto
        assert alerts[0].techniques == ("T0855", "T0836")
    # the master itself, and reads by anyone: nothing
    assert (
        fired(eng.process([tx("modbus", "write_single_coil", 5, src="10.0.5.44", write=True)]))
        == []
    )
    assert fired(eng.process([tx("modbus", "read_coils", 1, src="10.9.9.9")])) == []


def test_an_enterprise_list_beats_the_installation_list() -> None:
    ctx = Context(lists=MASTERS, enterprise_lists={1: lists(allowed_masters=["10.9.9.9"])})
    eng, _ = engine(ctx)
    assert (
        fired(eng.process([tx("modbus", "write_single_coil", 5, src="10.9.9.9", write=True)])) == []
    )
    other = tx("modbus", "write_single_coil", 5, src="10.9.9.9", write=True)
    other = type(other)(**{**other.to_dict(), "enterprise_id": 2, "id": "x2"})
    assert fired(eng.process([other])) == ["ot.write.unauthorized-master"]


def test_no_masters_declared_means_quiet() -> None:
    eng, _ = engine()
    assert (
        fired(eng.process([tx("modbus", "write_single_coil", 5, src="10.9.9.9", write=True)])) == []
    )


def test_function_code_outside_the_allow_list() -> None:
    eng, _ = engine(Context(lists=lists(modbus_functions=[1, 2, 3, 4, 6])))
    assert fired(eng.process([tx("modbus", "read_holding_registers", 3)])) == []
    assert fired(eng.process([tx("modbus", "write_multiple_coils", 15)])) == [
        "ot.function.not-allowed"
    ]
    # a protocol without a declared list stays quiet
    assert fired(eng.process([tx("dnp3", "read", 1, dst="10.0.4.4")])) == []


def test_plc_stop_and_mode_changes() -> None:
    eng, _ = engine()
    assert fired(eng.process([tx("s7comm", "plc_stop", 0x29, port=102)])) == ["ot.mode.stop"]
    assert fired(eng.process([tx("dnp3", "stop_application", 18, dst="10.0.7.1", port=20000)])) == [
        "ot.mode.stop"
    ]
    a = eng.process([tx("s7comm", "plc_hot_start", 0x28, dst="10.0.7.2", port=102)])
    assert fired(a) == ["ot.mode.change"] and "T0858" in a[0].techniques
    assert fired(eng.process([tx("dnp3", "cold_restart", 13, dst="10.0.7.3", port=20000)])) == [
        "ot.mode.change"
    ]


def test_program_download_upload_firmware() -> None:
    eng, _ = engine()
    a = eng.process([tx("s7comm", "request_download", 0x1A, port=102)])
    assert fired(a) == ["ot.program.download"] and a[0].techniques == ("T0843",)
    a = eng.process([tx("s7comm", "start_upload", 0x1D, port=102)])
    assert fired(a) == ["ot.program.upload"] and a[0].techniques == ("T0845",)
    a = eng.process([tx("enip", "firmware_update", 0x4B, port=44818)])
    assert fired(a) == ["ot.firmware.update"] and a[0].techniques == ("T0857",)


def test_modbus_identification_scan_counts_distinct_targets() -> None:
    eng, _ = engine()
    same = [tx("modbus", "read_device_identification", 43, ts=i, dst="10.0.1.1") for i in range(20)]
    assert "ot.modbus.identification-scan" not in fired(eng.process(same))
    sweep = [tx("modbus", "diagnostics", 8, ts=100 + i, dst=f"10.0.1.{i + 10}") for i in range(5)]
    alerts = [a for a in eng.process(sweep) if a.rule == "ot.modbus.identification-scan"]
    assert (
        len(alerts) == 1
        and alerts[0].count == 5
        and set(alerts[0].techniques) == {"T0846", "T0888"}
    )


def test_scan_spread_beyond_the_window_is_not_a_scan() -> None:
    eng, _ = engine()
    slow = [
        tx("enip", "list_identity", 0x63, ts=i * 30, dst=f"10.0.1.{i}", port=44818)
        for i in range(10)
    ]
    assert fired(eng.process(slow)) == []
    fast = [
        tx("enip", "list_identity", 0x63, ts=1000 + i, dst=f"10.0.1.{i}", port=44818)
        for i in range(5)
    ]
    assert fired(eng.process(fast)) == ["ot.enip.listidentity-sweep"]


def test_s7_szl_reads_across_plcs() -> None:
    eng, _ = engine()
    reads = [tx("s7comm", "read_szl", 4, ts=i * 10, dst=f"10.0.2.{i}", port=102) for i in range(3)]
    assert fired(eng.process(reads)) == ["ot.s7.szl-sweep"]


def test_setpoint_outside_the_model_range() -> None:
    def point_range(event):  # the device at 10.0.1.2, unit 1, holding register 100: 0..80
        if (
            event.dst_ip == "10.0.1.2"
            and event.fields.get("unit") == 1
            and event.fields.get("address") == 100
        ):
            return (0.0, 80.0)
        return None

    eng, _ = engine(Context(point_range=point_range))
    ok = tx("modbus", "write_single_register", 6, write=True, unit=1, address=100, values=[75])
    bad = tx("modbus", "write_single_register", 6, write=True, unit=1, address=100, values=[95])
    unknown = tx("modbus", "write_single_register", 6, write=True, unit=1, address=7, values=[9999])
    assert fired(eng.process([ok, unknown])) == []
    a = eng.process([bad])
    assert fired(a) == ["ot.setpoint.out-of-range"] and a[0].techniques == ("T0836",)


def test_bruteforce_then_success() -> None:
    eng, _ = engine()
    fails = [
        ev(
            "auth.failure",
            ts=i * 10,
            src_ip="203.0.113.7",
            fields={"target": "handle"},
            outcome="failure",
        )
        for i in range(10)
    ]
    a = eng.process(fails)
    assert fired(a) == ["auth.bruteforce"] and a[0].count == 10 and a[0].techniques == ("T0859",)
    ok = ev(
        "auth.success", ts=200, src_ip="203.0.113.7", outcome="success", fields={"target": "handle"}
    )
    assert fired(eng.process([ok])) == ["auth.success-after-failures"]
    # a success from another source, or long after: nothing
    assert fired(eng.process([ev("auth.success", ts=210, src_ip="203.0.113.8")])) == []
    assert fired(eng.process([ev("auth.success", ts=5000, src_ip="203.0.113.7")])) == []


def test_device_credentials_bruteforce() -> None:
    eng, _ = engine()
    fails = [
        ev("auth.failure", ts=i, src_ip="10.0.0.66", fields={"target": "mqtt"}) for i in range(5)
    ]
    a = eng.process(fails)
    assert fired(a) == ["auth.device-bruteforce"] and "T0812" in a[0].techniques


def test_identifier_enumeration() -> None:
    eng, _ = engine()
    resolves = [
        ev(
            "ids.resolve",
            ts=i * 0.5,
            src_ip="198.51.100.4",
            outcome="success",
            fields={"handle": f"86.100/{i}"},
        )
        for i in range(50)
    ]
    assert fired(eng.process(resolves)) == ["identifier.enumeration"]
    misses = [
        ev(
            "ids.resolve",
            ts=100 + i,
            src_ip="198.51.100.5",
            outcome="failure",
            fields={"handle": "86.100/x"},
        )
        for i in range(30)
    ]
    assert fired(eng.process(misses)) == ["identifier.enumeration-not-found"]


def test_learning_then_new_pair_host_and_function() -> None:
    base = Baseline()
    base.start(1, now=ev().ts, days=1)
    eng, _ = engine(Context(baseline=base))
    learned = [
        tx("modbus", "read_holding_registers", 3, ts=i, src="10.0.0.5", dst="10.0.1.1")
        for i in range(10)
    ]
    assert fired(eng.process(learned)) == []
    after = 2 * 86_400
    assert (
        fired(
            eng.process(
                [
                    tx(
                        "modbus",
                        "read_holding_registers",
                        3,
                        ts=after,
                        src="10.0.0.5",
                        dst="10.0.1.1",
                    )
                ]
            )
        )
        == []
    )
    a = fired(
        eng.process(
            [tx("modbus", "write_single_coil", 5, ts=after + 1, src="10.0.0.5", dst="10.0.1.1")]
        )
    )
    assert a == ["baseline.new-function"]
    a = fired(
        eng.process(
            [
                tx(
                    "modbus",
                    "read_holding_registers",
                    3,
                    ts=after + 2,
                    src="10.0.0.5",
                    dst="10.0.1.9",
                )
            ]
        )
    )
    assert "baseline.new-conversation" in a and "baseline.new-function" in a
    a = fired(
        eng.process(
            [
                tx(
                    "modbus",
                    "read_holding_registers",
                    3,
                    ts=after + 3,
                    src="10.6.6.6",
                    dst="10.0.1.1",
                )
            ]
        )
    )
    assert set(a) == {"baseline.new-conversation", "baseline.new-host"}
    assert len(base.pending) == 2  # one conversation, one function learned


def test_no_baseline_means_no_learned_alerts() -> None:
    eng, _ = engine(Context(baseline=Baseline()))
    assert fired(eng.process([tx("modbus", "read_coils", 1, src="10.6.6.6")])) == []

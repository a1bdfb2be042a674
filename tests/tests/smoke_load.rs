use vrrp_agent::dataplane::Dataplane;
#[test]
fn loads_and_passes_non_vrrp() {
    let dp = Dataplane::load(None).unwrap_or_else(|e| panic!("{e}"));
    let mut frame = vec![0u8; 64];
    frame[12] = 0x08; frame[13] = 0x00; frame[14] = 0x45; frame[23] = 17;
    let (verdict, _) = dp.test_run(&frame, 1).unwrap();
    assert_eq!(verdict, 2);
}

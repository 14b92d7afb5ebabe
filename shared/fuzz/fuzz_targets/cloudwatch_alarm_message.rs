//! `causeloop_providers::parse_cloudwatch_alarm` (`parse_alarm_message`): the CloudWatch alarm
//! JSON that an SNS notification carries as a string in its `Message` field. Fuzzing it apart
//! from the envelope lets libFuzzer mutate the alarm itself instead of a JSON string escaped
//! inside another JSON document.
//! Input: the message text; bytes that are not UTF-8 are converted lossily, since the envelope
//! always hands over a `String`.
#![no_main]

use causeloop_providers::parse_cloudwatch_alarm;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let message = String::from_utf8_lossy(data);
    if let Err(error) = parse_cloudwatch_alarm(&message) {
        let _ = (error.to_string(), error.field());
    }
});

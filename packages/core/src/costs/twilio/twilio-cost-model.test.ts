import { readFileSync } from 'node:fs';
import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import { InvalidPolicyError } from '../../errors/invalid-policy-error.js';
import { costContext, costRequest, costResponse, type TestRequestInit } from '../__fixtures__/cost-request.js';
import type { CostEstimate } from '../cost-model.js';
import { createTwilioCostModel, type TwilioCostOptions } from './twilio-cost-model.js';

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`./__fixtures__/${name}.json`, import.meta.url), 'utf8'));

const ACCOUNT = '/2010-04-01/Accounts/ACplaceholder';
const MESSAGES = `${ACCOUNT}/Messages.json`;
const CALLS = `${ACCOUNT}/Calls.json`;
const context = costContext({ fx: { eur: '1.08' } });

function estimate(init: TestRequestInit, options?: TwilioCostOptions): CostEstimate {
  const result = createTwilioCostModel(options).estimate(costRequest(init), context);
  if (result instanceof Promise) throw new Error('the Twilio model estimates synchronously');
  return result;
}

describe('createTwilioCostModel', () => {
  describe('estimating messages', () => {
    it('should price a one-segment SMS at the default US segment price', () => {
      expect(estimate({ path: MESSAGES, form: { To: '+15558675310', Body: 'Your order has shipped.' } })).toEqual({
        kind: 'known',
        micros: 8_300,
        note: '1 GSM-7 segment',
      });
    });

    it('should read parameters named in any letter case, as Twilio does', () => {
      expect(estimate({ path: MESSAGES, body: `to=%2B15558675310&body=${'a'.repeat(307)}` })).toMatchObject({
        micros: 3 * 8_300,
      });
      expect(estimate({ path: CALLS, body: 'TO=%2B14155551212&timelimit=120' })).toMatchObject({ micros: 2 * 14_000 });
      const template = `To=%2B15558675310&Body=x&contentsid=HX${'0'.repeat(32)}`;
      expect(estimate({ path: MESSAGES, body: template })).toMatchObject({ kind: 'unknown' });
    });

    it('should count a message to Malaysia (+60) in UCS-2 as soon as it has a character outside ASCII', () => {
      // Twilio's segment calculator: Malaysian carriers take only ASCII (0–127) in GSM-7.
      const my = { smsSegmentUsdByPrefix: { '+60': '0.05' } };
      expect(estimate({ path: MESSAGES, form: { To: '+60123456789', Body: 'é'.repeat(160) } }, my)).toMatchObject({
        micros: 3 * 50_000,
        note: '3 UCS-2 segments',
      });
      expect(estimate({ path: MESSAGES, form: { To: '+60123456789', Body: 'a'.repeat(160) } }, my)).toMatchObject({
        micros: 50_000,
      });
      // Elsewhere, é is a GSM-7 character.
      expect(estimate({ path: MESSAGES, form: { To: '+15558675310', Body: 'é'.repeat(160) } })).toMatchObject({
        micros: 8_300,
      });
    });

    it('should price a long GSM-7 body per 153-septet segment', () => {
      expect(estimate({ path: MESSAGES, form: { To: '+15558675310', Body: 'a'.repeat(307) } })).toMatchObject({
        micros: 3 * 8_300,
      });
    });

    it('should price a UCS-2 body per 67-unit segment', () => {
      expect(
        estimate({ path: MESSAGES, form: { To: '+15558675310', Body: `Привет ${'a'.repeat(70)}` } }),
      ).toMatchObject({
        micros: 2 * 8_300,
        note: '2 UCS-2 segments',
      });
    });

    it('should price a message with MediaUrl as one MMS, however many media', () => {
      expect(
        estimate({
          path: MESSAGES,
          form: [
            ['To', '+15558675310'],
            ['Body', 'a'.repeat(100)],
            ['MediaUrl', 'https://x.test/1.png'],
            ['MediaUrl', 'https://x.test/2.png'],
          ],
        }),
      ).toEqual({ kind: 'known', micros: 20_000, note: 'MMS with 2 media' });
    });

    it('should price a long MMS to the US at no less than the SMS the MMS Converter may send instead', () => {
      // To a carrier without MMS, Twilio sends the body and the media links as SMS, charged as SMS:
      // 1,500 + 21 characters → 10 GSM-7 segments of 153.
      expect(
        estimate({
          path: MESSAGES,
          form: [
            ['To', '+15558675310'],
            ['Body', 'a'.repeat(1500)],
            ['MediaUrl', 'https://x.test/1.png'],
          ],
        }),
      ).toEqual({ kind: 'known', micros: 10 * 8_300, note: 'MMS with 1 media, or its SMS with links' });
    });

    it('should use configured prices, the longest destination prefix winning', () => {
      const options = { smsSegmentUsd: '0.0079', smsSegmentUsdByPrefix: { '+44': '0.04', '+447': '0.05' } };
      expect(estimate({ path: MESSAGES, form: { To: '+15551230000', Body: 'hi' } }, options)).toMatchObject({
        micros: 7_900,
      });
      expect(estimate({ path: MESSAGES, form: { To: '+442071230000', Body: 'hi' } }, options)).toMatchObject({
        micros: 40_000,
      });
      expect(estimate({ path: MESSAGES, form: { To: 'whatsapp:+447700900000', Body: 'hi' } }, options)).toMatchObject({
        micros: 50_000,
      });
    });

    it('should return unknown for a template message without a Body', () => {
      expect(estimate({ path: MESSAGES, form: { To: '+15558675310', ContentSid: 'HX123' } }).kind).toBe('unknown');
    });
  });

  describe('when a destination or a parameter cannot be priced safely', () => {
    const uk = { smsSegmentUsdByPrefix: { '+44': '0.0524' }, callPerMinuteUsdByPrefix: { '+44': '0.0300' } };
    const micros = (init: TestRequestInit, options?: TwilioCostOptions) => {
      const result = estimate(init, options);
      return result.kind === 'known' ? result.micros : 'unknown';
    };

    it('should deny a number outside +1 with no configured price, and use "+" as a catch-all', () => {
      expect(micros({ path: MESSAGES, form: { To: '+447700900123', Body: 'hi' } })).toBe('unknown');
      expect(micros({ path: CALLS, form: { To: '+447700900123', TimeLimit: '600' } })).toBe('unknown');
      expect(micros({ path: MESSAGES, form: { To: '+447700900123', Body: 'hi' } }, uk)).toBe(52_400);
      expect(micros({ path: CALLS, form: { To: '+447700900123', TimeLimit: '600' } }, uk)).toBe(300_000);
      expect(
        micros({ path: MESSAGES, form: { To: '+61400000000', Body: 'hi' } }, { smsSegmentUsdByPrefix: { '+': '0.1' } }),
      ).toBe(100_000);
    });

    it('should not price +1 numbers outside the US and Canada (the Caribbean, US territories, 900) at the +1 rate', () => {
      for (const to of ['+18765550123', '+18685550123', '+18095550123', '+17875550123', '+19005550123']) {
        expect(micros({ path: MESSAGES, form: { To: to, Body: 'hi' } })).toBe('unknown');
        expect(micros({ path: CALLS, form: { To: to, TimeLimit: '60' } })).toBe('unknown');
        // Not even with '+1' configured explicitly; a longer prefix or '+' prices them.
        expect(
          micros({ path: MESSAGES, form: { To: to, Body: 'hi' } }, { smsSegmentUsdByPrefix: { '+1': '0.01' } }),
        ).toBe('unknown');
        expect(
          micros({ path: MESSAGES, form: { To: to, Body: 'hi' } }, { smsSegmentUsdByPrefix: { '+': '0.30' } }),
        ).toBe(300_000);
      }
      const jamaica = { smsSegmentUsdByPrefix: { '+1876': '0.2000' } };
      expect(micros({ path: MESSAGES, form: { To: '+18765550123', Body: 'hi' } }, jamaica)).toBe(200_000);
      // The US mainland and Canada keep the +1 rate.
      for (const to of ['+14155551212', '+16135550123', '+12125550123']) {
        expect(micros({ path: MESSAGES, form: { To: to, Body: 'hi' } })).toBe(8_300);
      }
    });

    it('should read 00 as +, and deny a To that is not an E.164 number', () => {
      expect(micros({ path: MESSAGES, form: { To: '00447700900123', Body: 'hi' } }, uk)).toBe(52_400);
      expect(micros({ path: MESSAGES, form: { To: '447700900123', Body: 'hi' } }, uk)).toBe('unknown');
      // A raw '+' decodes to a space.
      expect(micros({ path: MESSAGES, body: 'To=+447700900123&Body=hi' }, uk)).toBe('unknown');
      expect(micros({ path: CALLS, form: { To: 'client:alice', TimeLimit: '60' } })).toBe('unknown');
    });

    it('should price an MMS to +1 outside the US and Canada as the SMS with links Twilio sends there', () => {
      const form: Array<[string, string]> = [
        ['To', '+18765551234'],
        ['Body', 'a'.repeat(600)],
        ['MediaUrl', 'https://x.test/1.png'],
      ];
      expect(micros({ path: MESSAGES, form }, { smsSegmentUsdByPrefix: { '+1876': '0.10' } })).toBeGreaterThanOrEqual(
        400_000,
      );
      expect(micros({ path: MESSAGES, form })).toBe('unknown');
    });

    it('should reserve an MMS outside +1 as the dearer of MMS and its SMS with links, and SendAsMms as MMS', () => {
      const body = 'a'.repeat(1600);
      expect(
        micros(
          {
            path: MESSAGES,
            form: [
              ['To', '+447700900123'],
              ['Body', body],
              ['MediaUrl', 'https://x.test/1.png'],
            ],
          },
          uk,
        ),
      ).toBeGreaterThanOrEqual(11 * 52_400);
      expect(micros({ path: MESSAGES, form: { To: '+15558675310', Body: 'hi', SendAsMms: 'true' } })).toBe(20_000);
      // twilio-node passes a number or another truthy spelling through as it is: priced as MMS.
      for (const flag of ['1', 'yes', 'on', ' true'])
        expect([flag, micros({ path: MESSAGES, form: { To: '+15558675310', Body: 'hi', SendAsMms: flag } })]).toEqual([
          flag,
          20_000,
        ]);
      expect(micros({ path: MESSAGES, form: { To: '+15558675310', Body: 'hi', SendAsMms: 'False' } })).toBe(8_300);
    });

    it('should deny a ContentSid template even with a Body, and repeated parameters', () => {
      const template = { To: '+15558675310', Body: 'x', ContentSid: `HX${'0'.repeat(32)}` };
      expect(micros({ path: MESSAGES, form: template })).toBe('unknown');
      expect(micros({ path: MESSAGES, body: `To=%2B15558675310&Body=hi&Body=${'a'.repeat(1600)}` })).toBe('unknown');
      expect(micros({ path: CALLS, body: 'To=%2B14155551212&TimeLimit=60&TimeLimit=14400' })).toBe('unknown');
      // Twilio reads names in any case: the same parameter in another case is repeated too.
      expect(micros({ path: MESSAGES, body: `To=%2B15558675310&Body=hi&body=${'a'.repeat(1600)}` })).toBe('unknown');
      expect(micros({ path: CALLS, body: 'To=%2B14155551212&TimeLimit=60&TIMELIMIT=14400' })).toBe('unknown');
      expect(micros({ path: CALLS, body: 'To=%2B14155551212&to=%2B447700900123&TimeLimit=60' })).toBe('unknown');
      // Not trimmed: a strict reader may ignore it and run the call to its own 4-hour limit.
      expect(micros({ path: CALLS, form: { To: '+14155551212', TimeLimit: ' 60\n' } })).toBe('unknown');
    });

    it("should price calls to Voice SDK clients and SIP endpoints with the 'client:' and 'sip:' keys", () => {
      const prices = { callPerMinuteUsdByPrefix: { 'client:': '0.0040', 'sip:': '0.0050', '+': '0.5' } };
      const reserved = (form: Record<string, string>) => {
        const result = estimate({ path: CALLS, form }, prices);
        return result.kind === 'known' ? result.micros : result.kind;
      };
      expect(reserved({ To: 'client:alice', TimeLimit: '600' })).toBe(40_000);
      expect(reserved({ To: 'sip:alice@example.sip.twilio.com', TimeLimit: '60' })).toBe(5_000);
      expect(reserved({ To: 'Client:alice' })).toBe(240 * 4_000);
      expect(reserved({ To: '+447700900123', TimeLimit: '60' })).toBe(500_000);
      // Without the key they stay unknown, the '+' catch-all notwithstanding.
      const catchAll = { callPerMinuteUsdByPrefix: { '+': '0.5' } };
      expect(estimate({ path: CALLS, form: { To: 'client:alice' } }, catchAll).kind).toBe('unknown');
    });

    it('should refuse a fallback to every call of unknown cost, TimeLimit or not, and allow one to messages', () => {
      const fallback = (init: TestRequestInit) => {
        const result = estimate(init);
        return result.kind === 'unknown' ? (result.fallback ?? true) : 'known';
      };
      const dial = '<Response><Dial>+882345678901</Dial></Response>';
      const unknownCalls: Array<Record<string, string>> = [
        { To: '+447700900123' },
        { To: '+447700900123', TimeLimit: '0' },
        { To: '+447700900123', TimeLimit: 'forever' },
        // A TimeLimit bounds the minutes, not their rate: 4 hours at $0.25 is $60.
        { To: '+447700900123', TimeLimit: '14400' },
        { To: '+447700900123', TimeLimit: '600' },
        { To: '+14155551212', TimeLimit: ' 60' },
        { To: 'client:alice' },
        { To: 'client:alice', TimeLimit: '60' },
        // The legs a <Dial> places are priced by Twilio apart from the call, TimeLimit or not.
        { To: '+14155551212', Twiml: dial },
        { To: '+14155551212', TimeLimit: '60', Twiml: dial },
      ];
      for (const form of unknownCalls) {
        expect([form, fallback({ path: CALLS, form })]).toEqual([form, false]);
      }
      expect(fallback({ path: CALLS, body: 'To=%2B14155551212&TimeLimit=60&TimeLimit=14400' })).toBe(false);
      expect(fallback({ path: CALLS, form: { To: '+447700900123' }, query: 'TimeLimit=60' })).toBe(false);
      expect(estimate({ path: CALLS, form: { To: '+447700900123', TimeLimit: '600' } })).toMatchObject({
        reason: expect.stringMatching(
          /^no call price is configured for \+447… \(callPerMinuteUsdByPrefix\); .*: configure its price$/,
        ),
      });
      // Only a missing price is something to configure.
      expect(estimate({ path: CALLS, form: { To: '+14155551212', Twiml: dial } })).toMatchObject({
        reason: expect.stringMatching(/^inline TwiML with .*never let through at a fallback estimate$/),
      });
      expect(estimate({ path: CALLS, form: { To: 'client:alice', TimeLimit: '60' } })).toMatchObject({
        reason: expect.stringMatching(/^no call price is configured for client: destinations .*: configure its price$/),
      });
      // Messages are bounded by their body.
      expect(fallback({ path: MESSAGES, form: { To: '+447700900123', Body: 'hi' } })).toBe(true);
    });

    it('should deny parameters in the query string, which the model would not read, and a body not form-encoded', () => {
      const form = { To: '+15558675310', Body: 'hi' };
      expect(micros({ path: MESSAGES, form })).toBe(8_300);
      expect(micros({ path: MESSAGES, form, query: 'To=%2B447700900123&MediaUrl=https://x/a.png' })).toBe('unknown');
      expect(micros({ path: CALLS, form: { To: '+14155551212', TimeLimit: '60' }, query: 'TimeLimit=14400' })).toBe(
        'unknown',
      );
      expect(micros({ path: MESSAGES, json: form, headers: { 'content-type': 'application/json' } })).toBe('unknown');
      const formType = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
      expect(micros({ path: MESSAGES, form, headers: formType })).toBe(8_300);
    });
  });

  describe('estimating calls', () => {
    it('should reserve TimeLimit rounded up to whole minutes', () => {
      expect(estimate({ path: CALLS, form: { To: '+14155551212', TimeLimit: '61' } })).toEqual({
        kind: 'known',
        micros: 2 * 14_000,
        note: 'call reserved for 2 minutes',
      });
    });

    it('should reserve defaultCallMinutes without a TimeLimit', () => {
      expect(estimate({ path: CALLS, form: { To: '+14155551212' } })).toMatchObject({ micros: 240 * 14_000 });
      expect(estimate({ path: CALLS, form: { To: '+14155551212', TimeLimit: '0' } })).toMatchObject({
        micros: 240 * 14_000,
      });
      expect(
        estimate({ path: CALLS, form: { To: '+14155551212' } }, { defaultCallMinutes: 3, callPerMinuteUsd: 0.02 }),
      ).toMatchObject({
        micros: 60_000,
      });
    });

    it('should return unknown for inline TwiML that can dial, record or fetch more, and price the rest', () => {
      const call = (twiml: string) =>
        estimate({ path: CALLS, form: { To: '+14155551212', TimeLimit: '60', Twiml: twiml } });
      for (const twiml of [
        '<Response><Dial><Number>+882345678901</Number><Number>+882345678902</Number></Dial></Response>',
        '<Response><Say>hi</Say><Record transcribe="true"/></Response>',
        '<Response><Redirect>https://x.test/next</Redirect></Response>',
        '<Response><Gather action="https://x.test/next"><Say>Press 1</Say></Gather></Response>',
      ]) {
        expect(call(twiml).kind).toBe('unknown');
      }
      const spoken =
        '<?xml version="1.0"?><Response><Say voice="alice">Paid.</Say><Pause length="1"/><Hangup/></Response>';
      expect(call(spoken)).toMatchObject({ micros: 14_000 });
      // SSML inside <Say> is speech, not verbs; a <Dial> after it is not.
      const ssml =
        '<Response><Say voice="Polly.Joanna">Code <break time="1s"/><say-as interpret-as="digits">1234</say-as><prosody rate="slow">bye</prosody></Say></Response>';
      expect(call(ssml)).toMatchObject({ micros: 14_000 });
      expect(call(`${ssml.replace('</Response>', '')}<Dial>+882345678901</Dial></Response>`).kind).toBe('unknown');
      // Markup that could hide a verb from a scanner is not read as speech.
      for (const hidden of [
        '<Response><!-- <Say> --><Dial><Number>+882345678901</Number></Dial></Response>',
        '<Response><Say voice="a>b"/><Dial><Number>+882345678901</Number></Dial></Response>',
        '<Response><Say><![CDATA[</Say>]]></Say><Dial>+882345678901</Dial></Response>',
        '<Response><Say>hi <Dial>+882345678901</Dial></Say></Response>',
        '<Response><Say>a < b</Say></Response>',
      ]) {
        expect(call(hidden).kind, hidden).toBe('unknown');
      }
      expect(call('<Response><Say voice="a>b">hi</Say></Response>')).toMatchObject({ micros: 14_000 });
    });

    it('should price the TwiML the official SDK builds, SSML and all, and refuse a huge unclosed tag at once', () => {
      const call = (twiml: string) =>
        estimate({ path: CALLS, form: { To: '+14155551212', TimeLimit: '60', Twiml: twiml } });
      const response = new twilio.twiml.VoiceResponse();
      const say = response.say({ voice: 'Polly.Joanna', language: 'en-US', loop: 2 }, "Hi it's ");
      say.break({ strength: 'x-weak', time: '100ms' });
      say.emphasis({ level: 'moderate' }, 'Words');
      say.lang({ 'xml:lang': 'fr-FR' }, 'Bonjour');
      say.prosody({ pitch: '-10%', rate: '85%' }, 'x');
      say.sayAs({ 'interpret-as': 'spell-out' }, 'abc');
      say.sub({ alias: 'World Wide Web' }, 'WWW');
      say.addText(' & done > ok');
      response.play({ loop: 2 }, 'https://api.twilio.com/cowbell.mp3?a=1&b=2');
      response.pause({ length: 2 });
      response.hangup();
      expect(call(response.toString())).toMatchObject({ micros: 14_000 });
      const pretty = `<?xml version='1.0' encoding='UTF-8'?>\r\n<Response>\n  <Say language='en-GB'>Hello</Say>\n  <Pause length='2' />\n</Response>\n`;
      expect(call(pretty)).toMatchObject({ micros: 14_000 });
      // An unclosed tag over a long run of whitespace: rejected in one pass, not in quadratic time.
      for (const twiml of [`<Say${' '.repeat(200_000)}`, `<${'\n'.repeat(200_000)}`, "<a b='".repeat(30_000)]) {
        expect(call(twiml).kind).toBe('unknown');
      }
    });

    it('should price adding a conference participant, which dials it, as a call', () => {
      const participants = `${ACCOUNT}/Conferences/CF1/Participants.json`;
      expect(estimate({ path: participants, form: { From: '+15005550001', To: '+14155551212' } })).toEqual({
        kind: 'known',
        micros: 240 * 14_000,
        note: 'call reserved for 240 minutes',
      });
      expect(estimate({ path: participants, form: { To: '+14155551212', TimeLimit: '61' } })).toMatchObject({
        micros: 2 * 14_000,
      });
      expect(estimate({ path: participants, form: { To: '+447700900123' } })).toMatchObject({
        kind: 'unknown',
        fallback: false,
      });
      expect(estimate({ path: participants, form: { To: '+14155551212' }, query: 'TimeLimit=60' }).kind).toBe(
        'unknown',
      );
    });

    it('should deny, even with a fallback, a call or participant that records or detects machines', () => {
      const participants = `${ACCOUNT}/Conferences/CF1/Participants.json`;
      const plain = { To: '+14155551212', TimeLimit: '60' };
      for (const [path, extra] of [
        [CALLS, { Record: 'true' }],
        [CALLS, { MachineDetection: 'Enable' }],
        [CALLS, { machinedetection: 'DetectMessageEnd' }],
        [participants, { ConferenceRecord: 'record-from-start' }],
        [participants, { Record: 'True' }],
      ] as const) {
        expect(estimate({ path, form: { ...plain, ...extra } }), JSON.stringify(extra)).toMatchObject({
          kind: 'unknown',
          reason: expect.stringContaining('billed apart from the call'),
          fallback: false,
        });
      }
      // Asking not to record costs nothing extra.
      const none: Array<Record<string, string>> = [{ Record: 'false' }, { ConferenceRecord: 'do-not-record' }];
      for (const extra of none) {
        expect(estimate({ path: participants, form: { ...plain, ...extra } })).toMatchObject({
          kind: 'known',
          micros: 14_000,
        });
      }
    });

    it('should return unknown for a malformed TimeLimit', () => {
      expect(estimate({ path: CALLS, form: { TimeLimit: 'forever' } }).kind).toBe('unknown');
    });
  });

  describe('other endpoints', () => {
    it('should price reads at 0', () => {
      expect(estimate({ method: 'GET', path: MESSAGES })).toEqual({ kind: 'known', micros: 0 });
    });

    it('should price redacting a message, hanging up a call and deleting either at 0', () => {
      expect(estimate({ path: `${ACCOUNT}/Messages/SM1.json`, form: { Body: '' } })).toMatchObject({ micros: 0 });
      expect(estimate({ path: `${ACCOUNT}/Calls/CA1.json`, form: { Status: 'completed' } })).toMatchObject({
        micros: 0,
      });
      expect(estimate({ method: 'DELETE', path: `${ACCOUNT}/Messages/SM1.json` })).toMatchObject({ micros: 0 });
    });

    it('should return unknown for a call update that sets anything but its status and status callback', () => {
      const call = `${ACCOUNT}/Calls/CA1.json`;
      expect(estimate({ path: call, form: { TimeLimit: '36000' } }).kind).toBe('unknown');
      // New TwiML can dial more numbers: each a billed leg.
      const dial = '<Response><Dial timeLimit="14400"><Number>+882345678901</Number></Dial></Response>';
      expect(estimate({ path: call, form: { Twiml: dial } }).kind).toBe('unknown');
      expect(
        estimate({ path: call, form: { Url: 'https://twimlets.com/forward?PhoneNumber=%2B882345678901' } }).kind,
      ).toBe('unknown');
      expect(estimate({ path: call, form: { Status: 'completed', FallbackUrl: 'https://x.test/t' } }).kind).toBe(
        'unknown',
      );
      expect(estimate({ path: call, form: { Status: 'completed' }, query: 'TimeLimit=14400' }).kind).toBe('unknown');
      expect(
        estimate({
          path: call,
          form: { Status: 'canceled', StatusCallback: 'https://x.test/cb', StatusCallbackMethod: 'POST' },
        }),
      ).toMatchObject({ micros: 0 });
      // Names in any letter case, as Twilio reads them: a hang-up stays free, a dial does not.
      expect(
        estimate({ path: call, form: { status: 'completed', STATUSCALLBACK: 'https://x.test/cb' } }),
      ).toMatchObject({
        kind: 'known',
        micros: 0,
      });
      expect(estimate({ path: call, form: { twiml: '<Response><Say>Ahoy there</Say></Response>' } })).toMatchObject({
        micros: 0,
      });
      expect(estimate({ path: call, form: { twiml: dial } })).toMatchObject({ kind: 'unknown', fallback: false });
      expect(
        estimate({
          path: call,
          body: `Twiml=${encodeURIComponent('<Response><Say>hi</Say></Response>')}&twiml=${encodeURIComponent(dial)}`,
        }).kind,
      ).toBe('unknown');
      // Twilio's own live-call example, TwiML that only speaks, stays free; the reasons name the parameter.
      expect(estimate({ path: call, form: { Twiml: '<Response><Say>Ahoy there</Say></Response>' } })).toMatchObject({
        micros: 0,
      });
      expect(estimate({ path: call, form: { Twiml: dial } })).toMatchObject({
        reason: expect.stringMatching(/<Dial>/),
      });
      expect(estimate({ path: call, form: { Url: 'https://x.test/t' } })).toMatchObject({
        reason:
          'a call update setting `Url` can dial out or lengthen the call: not priced; never let through at a fallback estimate',
      });
    });

    it('should deny a call update that may dial or lengthen the call even on a key with a fallback, as at creation', () => {
      const call = `${ACCOUNT}/Calls/CA1.json`;
      const dial = '<Response><Dial timeLimit="14400"><Number>+882345678901</Number></Dial></Response>';
      const updates: Record<string, string>[] = [
        { Twiml: dial },
        { Url: 'https://twimlets.com/forward?PhoneNumber=%2B882345678901', Method: 'GET' },
        { TimeLimit: '36000' },
      ];
      for (const form of updates) {
        expect(estimate({ path: call, form })).toMatchObject({ kind: 'unknown', fallback: false });
      }
    });

    it('should deny writes to messages, calls and participants off their .json route, even with a fallback', () => {
      const refused = {
        kind: 'unknown',
        reason: expect.stringMatching(/only as the official SDK sends them, POST or DELETE on the `\.json` route/),
        fallback: false,
      };
      const call = { To: '+14155551212', TimeLimit: '60' };
      // `SMS/Messages` too: Twilio's deprecated route to send an SMS, still served.
      for (const route of [
        'Calls',
        'Calls.xml',
        'Calls.json.xml',
        'CALLS.json',
        'Messages',
        'Messages.XML',
        'SMS/Messages.json',
        'sms/messages',
      ]) {
        expect([route, estimate({ path: `${ACCOUNT}/${route}`, form: call })]).toEqual([route, refused]);
      }
      for (const route of [
        'Calls/CA1',
        'Calls/CA1.xml',
        'Messages/SM1.xml',
        'Messages/SM1/Media/ME1',
        'SMS/Messages/SM1.json',
        'Conferences/CF1/Participants',
        'Conferences/CF1/Participants/CA1.xml',
      ]) {
        expect([route, estimate({ method: 'DELETE', path: `${ACCOUNT}/${route}` })]).toEqual([route, refused]);
      }
      for (const method of ['PUT', 'PATCH']) {
        expect([method, estimate({ method, path: CALLS, form: call })]).toEqual([method, refused]);
      }
      // The .json routes, reads of any route, and other resources are priced as before.
      expect(estimate({ path: CALLS, form: call })).toMatchObject({ kind: 'known', micros: 14_000 });
      expect(estimate({ method: 'DELETE', path: `${ACCOUNT}/Calls/CA1.json` })).toMatchObject({ micros: 0 });
      expect(estimate({ method: 'GET', path: `${ACCOUNT}/Calls.xml` })).toEqual({ kind: 'known', micros: 0 });
      expect(estimate({ path: `${ACCOUNT}/Calls/CA1/Recordings`, form: {} })).not.toHaveProperty('fallback');
    });

    it('should return unknown for other writes, such as buying a phone number', () => {
      expect(
        estimate({ path: `${ACCOUNT}/IncomingPhoneNumbers.json`, form: { PhoneNumber: '+15551234567' } }).kind,
      ).toBe('unknown');
    });

    it('should price endpoints added with zeroCostEndpoints at 0', () => {
      const options = { zeroCostEndpoints: ['POST /2010-04-01/Accounts/*/Queues.json'] };
      expect(estimate({ path: `${ACCOUNT}/Queues.json`, form: { FriendlyName: 'q' } }, options)).toMatchObject({
        micros: 0,
      });
    });
  });

  describe('settling', () => {
    const model = createTwilioCostModel();
    const request = costRequest({ path: MESSAGES, form: { To: '+15558675310', Body: 'hi' } });
    const known = { kind: 'known', micros: 8_300, note: '1 GSM-7 segment' } as const;

    it('should settle a created message at the estimate, pending on its SID', () => {
      expect(model.settle(request, costResponse(201, fixture('message-created')), known, context)).toEqual({
        kind: 'known',
        micros: 8_300,
        note: '1 GSM-7 segment; price pending',
        pendingRef: 'SM11111111111111111111111111111111',
      });
    });

    it("should settle at Twilio's price when the create response already has one", () => {
      expect(model.settle(request, costResponse(201, fixture('message-priced')), known, context)).toMatchObject({
        micros: 7_900,
      });
    });

    it('should settle a created call pending on its SID', () => {
      const call = costRequest({ path: CALLS, form: { To: '+14155551212' } });
      expect(model.settle(call, costResponse(201, fixture('call-created')), known, context)).toMatchObject({
        pendingRef: 'CA44444444444444444444444444444444',
      });
    });

    it('should settle a create of unknown cost at no less than the fallback, pending on its SID', () => {
      const unknown = { kind: 'unknown', reason: 'a message sent from a ContentSid template has no Body' } as const;
      const template = costRequest({ path: MESSAGES, form: { To: '+15558675310', ContentSid: `HX${'0'.repeat(32)}` } });
      // No less than the fallback, nor than the segments Twilio answered (1 × $0.0083).
      expect(model.settle(template, costResponse(201, fixture('message-created')), unknown, context)).toEqual({
        kind: 'known',
        micros: 8_300,
        atLeast: true,
        note: 'fallback estimate; price pending',
        pendingRef: 'SM11111111111111111111111111111111',
      });
      const call = costRequest({ path: CALLS, form: { To: '+447700900123', TimeLimit: '60' } });
      expect(model.settle(call, costResponse(201, fixture('call-created')), unknown, context)).toMatchObject({
        atLeast: true,
        pendingRef: 'CA44444444444444444444444444444444',
      });
      // Priced already, or with no SID to wait on: Twilio's price, or the fallback as it is.
      expect(model.settle(template, costResponse(201, fixture('message-priced')), unknown, context)).toEqual({
        kind: 'known',
        micros: 7_900,
        note: "Twilio's price",
      });
      expect(model.settle(template, costResponse(201, {}), unknown, context)).toEqual(unknown);
    });

    it('should settle an added conference participant pending on the SID of the call that dials it', () => {
      const participant = costRequest({
        path: `${ACCOUNT}/Conferences/CF1/Participants.json`,
        form: { To: '+14155551212' },
      });
      const answer = { call_sid: 'CA44444444444444444444444444444444', conference_sid: 'CF1', status: 'queued' };
      expect(model.settle(participant, costResponse(201, answer), known, context)).toMatchObject({
        micros: 8_300,
        pendingRef: 'CA44444444444444444444444444444444',
      });
    });

    it('should settle a 4xx answer at 0 and keep the estimate on a 5xx answer', () => {
      expect(model.settle(request, costResponse(400, { code: 21211 }), known, context)).toMatchObject({ micros: 0 });
      expect(model.settle(request, costResponse(503, undefined), known, context)).toMatchObject({ micros: 8_300 });
    });
  });

  describe('reconciling late prices', () => {
    const model = createTwilioCostModel();

    it('should reconcile a GET of a priced message', () => {
      const get = costRequest({ method: 'GET', path: `${ACCOUNT}/Messages/SM11111111111111111111111111111111.json` });
      expect(model.reconcile(get, costResponse(200, fixture('message-priced')), context)).toEqual({
        ref: 'SM11111111111111111111111111111111',
        micros: 7_900,
      });
    });

    it('should not reconcile while the price is still null', () => {
      const get = costRequest({ method: 'GET', path: `${ACCOUNT}/Messages/SM11111111111111111111111111111111.json` });
      expect(model.reconcile(get, costResponse(200, fixture('message-created')), context)).toBeUndefined();
    });

    it('should reconcile a GET of a priced call', () => {
      const get = costRequest({ method: 'GET', path: `${ACCOUNT}/Calls/CA44444444444444444444444444444444.json` });
      expect(model.reconcile(get, costResponse(200, fixture('call-priced')), context)).toEqual({
        ref: 'CA44444444444444444444444444444444',
        micros: 42_000,
      });
    });

    it('should reconcile every priced message of a list with reconcileAll, and the first with reconcile', () => {
      const list = costRequest({ method: 'GET', path: MESSAGES });
      const response = costResponse(200, fixture('messages-list'));
      expect(model.reconcileAll(list, response, context)).toEqual([
        { ref: 'SM11111111111111111111111111111111', micros: 7_900 },
        { ref: 'SM33333333333333333333333333333333', micros: 15_800 },
      ]);
      expect(model.reconcile(list, response, context)).toEqual({
        ref: 'SM11111111111111111111111111111111',
        micros: 7_900,
      });
    });

    it('should convert a price in another currency and skip one without a rate', () => {
      const get = costRequest({ method: 'GET', path: `${ACCOUNT}/Messages/SM1.json` });
      expect(
        model.reconcile(get, costResponse(200, { sid: 'SM1', price: '-0.05', price_unit: 'EUR' }), context),
      ).toEqual({
        ref: 'SM1',
        micros: 54_000,
      });
      expect(
        model.reconcile(get, costResponse(200, { sid: 'SM1', price: '-0.05', price_unit: 'GBP' }), context),
      ).toBeUndefined();
    });

    it('should work when called detached from the model, as the vault does', () => {
      const { reconcile } = model;
      const get = costRequest({ method: 'GET', path: `${ACCOUNT}/Calls/CA44444444444444444444444444444444.json` });
      expect(reconcile(get, costResponse(200, fixture('call-priced')), context)?.micros).toBe(42_000);
    });
  });

  describe('options', () => {
    it('should reject malformed prices', () => {
      expect(() => createTwilioCostModel({ smsSegmentUsd: '-1' })).toThrow(InvalidPolicyError);
      expect(() => createTwilioCostModel({ defaultCallMinutes: 0 })).toThrow(InvalidPolicyError);
      expect(() => createTwilioCostModel({ smsSegmentUsdByPrefix: { UK: '0.04' } })).toThrow(InvalidPolicyError);
    });
  });
});

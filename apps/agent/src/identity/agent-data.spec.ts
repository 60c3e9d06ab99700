/** @module identity/agent-data.spec: agent_data.json in rust-keylime's serde shape. */
import { formatAgentData, parseAgentData } from './agent-data';

test('round-trips and uses serde enum names and byte arrays', () => {
  const data = {
    akHashAlg: 'sha256' as const,
    akSignAlg: 'rsassa' as const,
    akPublic: Uint8Array.from([0, 1, 0, 11]),
    akPrivate: Uint8Array.from([9, 9]),
    ekHash: 'ab12',
    agentUuid: 'd432fbb3-d2f1-4a97-9ef7-75bd81c00000',
  };
  const text = formatAgentData(data);
  expect(JSON.parse(text)).toEqual({
    ak_hash_alg: 'Sha256',
    ak_sign_alg: 'RsaSsa',
    ak_public: [0, 1, 0, 11],
    ak_private: [9, 9],
    ek_hash: [97, 98, 49, 50],
    agent_uuid: data.agentUuid,
  });
  expect(parseAgentData(text)).toEqual({ data });
});

test('an upstream file without agent_uuid parses; garbage is reported, not thrown', () => {
  const upstream =
    '{"ak_hash_alg":"Sha1","ak_sign_alg":"EcDsa","ak_public":[1],"ak_private":[2],"ek_hash":[48]}';
  expect(parseAgentData(upstream)).toMatchObject({
    data: { akHashAlg: 'sha1', akSignAlg: 'ecdsa', ekHash: '0' },
  });
  expect(parseAgentData('{')).toEqual({ problem: 'not JSON' });
  expect(parseAgentData('{"ak_hash_alg":"Md5"}')).toHaveProperty('problem');
  expect(parseAgentData(upstream.replace('EcDsa', 'EcSchnorr'))).toHaveProperty('problem');
});

/**
 * @module registrar-agent.entity: the `registrarmain` table with upstream's column names and value
 * encodings, so a database written by upstream's registrar reads here and vice versa.
 */
import 'reflect-metadata';
import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * One registration. Encodings as upstream stores them (keylime/models/registrar/registrar_agent.py):
 * TPM2B_PUBLIC blobs and certificates as base64 (DER), `mtls_cert` base64 DER or "disabled",
 * `key` = base64 of the MakeCredential credential. Explicit column types: esbuild emits no
 * decorator metadata.
 */
@Entity({ name: 'registrarmain' })
export class RegistrarAgentRow {
  @PrimaryColumn({ name: 'agent_id', type: 'varchar', length: 80 })
  agentId!: string;

  @Column({ name: 'key', type: 'varchar', length: 45, nullable: true })
  key!: string | null;

  @Column({ name: 'aik_tpm', type: 'text', nullable: true })
  aikTpm!: string | null;

  @Column({ name: 'ek_tpm', type: 'text', nullable: true })
  ekTpm!: string | null;

  @Column({ name: 'ekcert', type: 'text', nullable: true })
  ekcert!: string | null;

  @Column({ name: 'iak_tpm', type: 'text', nullable: true })
  iakTpm!: string | null;

  @Column({ name: 'iak_cert', type: 'text', nullable: true })
  iakCert!: string | null;

  @Column({ name: 'idevid_tpm', type: 'text', nullable: true })
  idevidTpm!: string | null;

  @Column({ name: 'idevid_cert', type: 'text', nullable: true })
  idevidCert!: string | null;

  @Column({ name: 'ip', type: 'varchar', length: 255, nullable: true })
  ip!: string | null;

  @Column({ name: 'port', type: 'integer', nullable: true })
  port!: number | null;

  @Column({ name: 'mtls_cert', type: 'text', nullable: true })
  mtlsCert!: string | null;

  @Column({ name: 'active', type: 'boolean', nullable: true })
  active!: boolean | null;

  @Column({ name: 'virtual', type: 'boolean', nullable: true })
  virtual!: boolean | null;

  /** JSON text; always "{}" for records made here (legacy cloud-VM data upstream). */
  @Column({ name: 'provider_keys', type: 'text', nullable: true })
  providerKeys!: string | null;

  @Column({ name: 'regcount', type: 'integer', nullable: true })
  regcount!: number | null;
}

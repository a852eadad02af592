"""A team's own CDK app with Stratoflow inside it (see the README, "Deploy to AWS").

    pip install 'stratoflow[cloud]'
    npx cdk deploy -c alertEmail=oncall@example.com

The stack holds the team's landing bucket and the whole platform; the flows of the namespace
`analytics` may read and write that bucket (and nothing else outside the platform).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stratoflow.cdk import Stratoflow, StratoflowProps


class DataPlatform(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)
        landing = s3.Bucket(
            self,
            "Landing",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
        )
        self.stratoflow = Stratoflow(
            self,
            "Stratoflow",
            StratoflowProps(
                alert_email=self.node.try_get_context("alertEmail"),
                data_retention_days=90,
                namespace_grants={"analytics": [landing.bucket_arn, landing.arn_for_objects("*")]},
            ),
        )


app = cdk.App()
# The stack's name prefixes what the deployer creates (`DataPlatform-<namespace>-<flow>`): letters
# and digits only.
DataPlatform(app, "DataPlatform")
app.synth()
